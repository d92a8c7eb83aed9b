"""Key health shared by two Python processes through a real Redis server."""

import json
import subprocess
import sys
import textwrap

from llm_rotate import LMRotate, configure_from_dict

from conftest import registry

CHILD = textwrap.dedent("""
    import asyncio, json, sys
    from llm_rotate import configure, lm
    registry = json.loads(sys.argv[1])
    configure(["a", "b"], registry=registry, strategy="priority", priorities={"a": 0, "b": 1})
    async def main():
        reply = await lm.chat("gpt-4o", [{"role": "user", "content": "hi"}])
        await lm.close()
        print(reply.key_id)
    asyncio.run(main())
""")


def shared_registry(upstream, namespace):
    reg = registry(upstream, [("a", "openai"), ("b", "openai")])
    reg["state_store"] = {"backend": "redis", "redis_url": "redis://127.0.0.1:6379/0", "redis_namespace": namespace}
    return reg


async def test_a_key_cooled_in_one_process_rests_in_the_other(upstream, namespace):
    reg = shared_registry(upstream, namespace)
    here = LMRotate(configure_from_dict(reg, ["a", "b"], strategy="priority", priorities={"a": 0, "b": 1}))
    assert (await here.health()).store.backend == "redis"
    upstream.script("sk-test-a", [{"rate_limited": 60}])
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(reg)], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "b"  # a answered 429 in the child, b served
    keys = {k.key_id: k for k in (await here.health()).keys}
    assert keys["a"].state == "cooling_down" and keys["a"].available_in_ms > 50_000
    assert (await here.chat("gpt-4o", [{"role": "user", "content": "hi"}])).key_id == "b"
    assert [k.removeprefix("sk-test-") for k in upstream.keys_called()] == ["a", "b", "b"]
    await here.close()


async def test_an_unreachable_redis_is_reported_not_fatal(upstream, namespace):
    reg = registry(upstream, [("a", "openai")])
    reg["state_store"] = {"backend": "redis", "redis_url": "redis://127.0.0.1:1/0", "redis_namespace": namespace}
    client = LMRotate(configure_from_dict(reg, ["a"]))
    reply = await client.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    assert reply.content == "ok from sk-test-a"
    assert (await client.health()).store.connected is False
