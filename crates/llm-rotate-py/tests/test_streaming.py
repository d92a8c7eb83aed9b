"""Streams: chunks, failover before the first chunk, breaks after it, collect, close."""

import pytest

from llm_rotate import LMRotateError, StreamError, configure_from_dict, LMRotate
from llm_rotate._native import testing

from conftest import client_on_clock, ids_called, registry

HI = [{"role": "user", "content": "hi"}]


def two_keys(upstream):
    return client_on_clock(
        configure_from_dict(registry(upstream, [("a", "openai"), ("b", "openai")]), ["a", "b"], strategy="priority",
                            priorities={"a": 0, "b": 1}),
        testing.ManualClock(),
    )


async def test_a_stream_fails_over_before_its_first_chunk(upstream):
    client = two_keys(upstream)
    upstream.script("sk-test-a", [{"rate_limited": 10}])
    text = "".join([c.delta async for c in client.chat_stream("gpt-4o", HI)])
    assert text == "ok from sk-test-b"
    assert ids_called(upstream) == ["a", "b"]
    assert all(r["stream"] for r in upstream.requests())


async def test_a_stream_cut_after_content_raises_stream_error(upstream):
    client = two_keys(upstream)
    upstream.script("sk-test-a", [{"cut_after": 2}])
    seen = []
    with pytest.raises(StreamError) as caught:
        async for chunk in client.chat_stream("gpt-4o", HI):
            seen.append(chunk.delta)
    assert len(seen) == 2 and isinstance(caught.value, LMRotateError)
    assert caught.value.key_id == "a"


async def test_a_stream_without_its_terminal_event_is_an_error_not_a_clean_end(upstream):
    client = two_keys(upstream)
    upstream.script("sk-test-a", [{"end_without_terminal": 1}])
    with pytest.raises(LMRotateError):
        async for _ in client.chat_stream("gpt-4o", HI):
            pass


async def test_collect_gives_what_the_unstreamed_call_gives(upstream):
    client = two_keys(upstream)
    calls = [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
             {"id": "call_2", "name": "get_time", "arguments": '{"tz": "CET"}'}]
    upstream.script("sk-test-a", [{"tool_calls": calls}, {"tool_calls": calls}])
    plain = await client.chat("gpt-4o", HI)
    collected = await client.chat_stream("gpt-4o", HI).collect()
    assert [(c.id, c.name, c.arguments) for c in collected.tool_calls] == \
        [(c.id, c.name, c.arguments) for c in plain.tool_calls] == [(c["id"], c["name"], c["arguments"]) for c in calls]
    assert collected.finish_reason == plain.finish_reason == "tool_calls"
    assert collected.message() == plain.message()


async def test_streamed_tool_call_pieces_join_to_the_arguments(upstream):
    client = two_keys(upstream)
    upstream.script("sk-test-a", [{"tool_calls": [{"id": "c1", "name": "f", "arguments": '{"a": [1, 2, 3]}'}]}])
    pieces = {}
    async for chunk in client.chat_stream("gpt-4o", HI, tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]):
        for delta in chunk.tool_calls:
            pieces.setdefault(delta.index, []).append(delta.arguments)
    assert len(pieces[0]) > 1 and "".join(pieces[0]) == '{"a": [1, 2, 3]}'


async def test_await_then_iterate_and_aclose(upstream):
    client = two_keys(upstream)
    stream = await client.chat_stream("gpt-4o", HI)
    first = await stream.__anext__()
    assert first.delta
    await stream.aclose()
    assert [c async for c in stream] == []
