"""Honest asyncio: the loop never blocks, calls from one loop overlap, cancelling a task
cancels its upstream request, and chat_sync keeps to code without a loop."""

import asyncio
import threading
import time

import pytest

from llm_rotate import BlockingCallError, LMRotate, LMRotateError, configure_from_dict

from conftest import registry

HI = [{"role": "user", "content": "hi"}]


def slow_client(upstream, seconds, n_keys=1):
    ids = [f"k{i}" for i in range(n_keys)]
    for key in ids:
        upstream.set_default(f"sk-test-{key}", {"latency": [seconds, "ok"]})
    return LMRotate(configure_from_dict(registry(upstream, [(k, "openai") for k in ids]), ids))


async def test_concurrent_calls_from_one_loop_are_in_flight_together(upstream):
    client = slow_client(upstream, 0.3, n_keys=2)
    finished = []

    async def one():
        await client.chat("gpt-4o", HI)
        finished.append(time.time() * 1000)

    await asyncio.gather(*(one() for _ in range(16)))
    arrivals = [r["at_unix_ms"] for r in upstream.requests()]
    assert len(arrivals) == 16
    # every request reached the upstream before the first answer came back
    assert max(arrivals) < min(finished)


async def test_the_event_loop_keeps_running_during_a_call(upstream):
    client = slow_client(upstream, 0.3)
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await client.chat("gpt-4o", HI)
    ticks_during_call = ticks
    done.set()
    await task
    assert ticks_during_call >= 5


async def test_cancelling_a_task_cancels_the_upstream_request(upstream):
    client = slow_client(upstream, 30)
    task = asyncio.create_task(client.chat("gpt-4o", HI))
    while not upstream.requests():
        await asyncio.sleep(0.01)
    assert (await client.health()).keys[0].in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the engine drops the call on its own threads
        if (await client.health()).keys[0].in_flight == 0:
            break
        await asyncio.sleep(0.01)
    report = await client.health()
    assert report.keys[0].in_flight == 0
    assert (await client.usage_summary())["total"]["successes"] == 0


async def test_a_wait_for_timeout_cancels_too(upstream):
    client = slow_client(upstream, 30)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.chat("gpt-4o", HI), 0.2)


async def test_chat_sync_inside_a_running_loop_raises_a_clear_error(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]))
    with pytest.raises(BlockingCallError, match="running event loop") as caught:
        client.chat_sync("gpt-4o", HI)
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, LMRotateError)
    assert upstream.requests() == []


def test_chat_sync_releases_the_gil(upstream):
    client = slow_client(upstream, 0.3)
    counted = 0
    stop = threading.Event()

    def count():
        nonlocal counted
        while not stop.is_set():
            counted += 1

    thread = threading.Thread(target=count)
    thread.start()
    before = counted
    client.chat_sync("gpt-4o", HI)
    during = counted - before
    stop.set()
    thread.join()
    assert during > 10_000


def test_chat_sync_from_many_threads(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("a", "openai"), ("b", "openai")]), ["a", "b"]))
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.chat_sync("gpt-4o", HI).content)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r.startswith("ok from sk-test-") for r in results)
