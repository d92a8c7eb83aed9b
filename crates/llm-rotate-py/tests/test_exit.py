"""Processes that exit right after their last call exit cleanly: no engine thread is
inside Python while the interpreter finalizes (an abort, before the package waited for
them at exit, in about one run in ten on a busy machine)."""

import json
import subprocess
import sys
import textwrap

from conftest import registry

CHILD = textwrap.dedent("""
    import asyncio, json, sys
    from llm_rotate import configure, lm
    configure(["a", "b"], registry=json.loads(sys.argv[1]))
    async def main():
        replies = await asyncio.gather(*(lm.chat("gpt-4o", [{"role": "user", "content": "hi"}]) for _ in range(4)))
        await lm.close()
        print(len(replies))
    asyncio.run(main())
""")


def test_many_processes_exit_cleanly_right_after_their_calls(upstream, namespace):
    reg = registry(upstream, [("a", "openai"), ("b", "openai")])
    reg["state_store"] = {"backend": "redis", "redis_url": "redis://127.0.0.1:6379/0", "redis_namespace": namespace}
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(reg)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(16)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == "4"
