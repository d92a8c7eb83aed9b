"""The Python package's overhead: one loopback fake upstream called by a bare
``httpx.AsyncClient``, by ``await lm.chat()`` and (when installed) by
``litellm.Router.acompletion``, one call at a time and with 32 concurrent tasks.

Run by ``cargo xtask bench-python`` (a release build of the extension). Rounds of the
clients alternate so that drift of a noisy machine falls on all of them alike; the
figures are medians over every call (sequential) and over rounds (concurrent).
"""

import asyncio
import json
import os
import statistics
import sys
import time

import httpx

import llm_rotate
from llm_rotate._native import testing

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SEQUENTIAL = 400
CONCURRENT_CALLS = 1600
TASKS = 32
MESSAGES = [{"role": "user", "content": "hi"}]


def make_clients(upstream):
    base = upstream.base_url
    config = llm_rotate.configure_from_dict(
        {"providers": {"openai": {"base_url": base}},
         "keys": [{"id": "a", "provider": "openai", "value": "sk-test-a"}]},
        ["a"],
    )
    ours = llm_rotate.LMRotate(config)
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

    async def bare():
        r = await http.post(f"{base}/chat/completions", headers={"authorization": "Bearer sk-test-a"},
                            json={"model": "gpt-4o", "messages": MESSAGES})
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    async def rotate():
        return (await ours.chat("gpt-4o", MESSAGES)).content

    clients = {"httpx": bare, "llm_rotate": rotate}
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network here
        import litellm

        litellm.telemetry = False
        router = litellm.Router(model_list=[{
            "model_name": "gpt-4o",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-test-a", "api_base": base},
        }])

        async def lite():
            return (await router.acompletion(model="gpt-4o", messages=MESSAGES)).choices[0].message.content

        clients["litellm_router"] = lite
    except ImportError:
        pass
    return clients


async def sequential(call, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - start)
    return samples


async def concurrent(call, n, tasks):
    left = n

    async def worker():
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return n / (time.perf_counter() - start)


async def main():
    upstream = testing.FakeUpstream(quiet=True)
    clients = make_clients(upstream)
    for call in clients.values():  # warm up connections and caches
        assert (await call()).startswith("ok from"), "the fake upstream answered something else"
        await sequential(call, 50)
    latencies = {name: [] for name in clients}
    throughput = {name: [] for name in clients}
    for _ in range(ROUNDS):
        for name, call in clients.items():
            latencies[name] += await sequential(call, SEQUENTIAL)
            throughput[name].append(await concurrent(call, CONCURRENT_CALLS, TASKS))
    base_us = statistics.median(latencies["httpx"]) / 1000
    base_rps = statistics.median(throughput["httpx"])
    summary = {}
    print(f"{'client':<16}{'median µs/call':>16}{'over httpx µs':>16}{'calls/s @32':>14}{'vs httpx':>10}")
    for name in clients:
        med_us = statistics.median(latencies[name]) / 1000
        rps = statistics.median(throughput[name])
        summary[name] = {"median_us": med_us, "overhead_us": med_us - base_us, "rps_32": rps,
                         "rps_ratio": rps / base_rps}
        print(f"{name:<16}{med_us:>16.1f}{med_us - base_us:>16.1f}{rps:>14.0f}{rps / base_rps:>9.2f}x")
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
