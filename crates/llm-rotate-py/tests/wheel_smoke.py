"""Run by `cargo xtask ci` in a fresh virtualenv holding only the built wheel (and
pydantic): the package imports, builds a config, keeps its secrets, and fails a call to
a closed port with the right error, with nothing from the source tree on the path."""

import asyncio
import sys

import llm_rotate
from llm_rotate import ExhaustedError, LMRotate, configure_from_dict

assert "site-packages" in llm_rotate.__file__, llm_rotate.__file__
config = configure_from_dict(
    {"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}},
     "keys": [{"id": "a", "provider": "openai", "value": "sk-wheel-secret-123456"}]},
    ["a"],
)
assert "sk-wheel-secret" not in repr(config)
client = LMRotate(config)


async def main() -> None:
    try:
        await client.chat("gpt-4o", [{"role": "user", "content": "hi"}], max_retries=0)
    except ExhaustedError as error:
        assert error.kind == "network", error.kind
    else:
        raise AssertionError("a closed port answered")
    report = await client.health()
    assert report.keys[0].key_id == "a"


asyncio.run(main())
print(f"llm_rotate {llm_rotate.__version__} from its wheel on Python {sys.version.split()[0]}: ok")
