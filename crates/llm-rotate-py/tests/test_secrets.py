"""No key value in any repr, str, dump, report or exception."""

import pytest

from llm_rotate import LMRotate, LMRotateError, configure_from_dict

from conftest import registry

SECRET = "sk-live-0123456789abcdefSECRET"


async def test_no_secret_in_any_repr_report_or_error(upstream):
    reg = registry(upstream, [("a", "openai")])
    reg["keys"][0]["value"] = SECRET
    reg["providers"]["openai"]["headers"] = {"x-extra-auth": "hdr-SECRET-value"}
    reg["state_store"] = {"redis_url": "redis://user:redispass@127.0.0.1:6379/0"}
    config = configure_from_dict(reg, ["a"])
    shown = [repr(config), str(config), repr(config.keys[0]), str(config.model_dump()), config.model_dump_json(),
             repr(config.state_store), repr(config.providers["openai"])]
    client = LMRotate(config)
    upstream.set_default(SECRET, "unauthorized")
    with pytest.raises(LMRotateError) as caught:
        await client.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    error = caught.value
    shown += [str(error), repr(error), repr(getattr(error, "attempts", ""))]
    shown += [repr(await client.health()), str((await client.health()).model_dump()), repr(await client.usage_summary())]
    upstream.set_default(SECRET, "ok")
    client.set_key_enabled("a", True)
    async with client.acquire("openai") as ctx:
        assert ctx.key_value == SECRET  # readable on purpose, for the vendor SDK
        shown.append(repr(ctx))
        await ctx.report_error(RuntimeError(f"vendor said: bad key {SECRET}"))
    shown.append(repr(await client.health()))
    for text in shown:
        assert SECRET not in text and "hdr-SECRET-value" not in text and "redispass" not in text, text
    # the secret did reach the vendor, and the header too
    assert upstream.requests()[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert upstream.requests()[0]["headers"]["x-extra-auth"] == "hdr-SECRET-value"
