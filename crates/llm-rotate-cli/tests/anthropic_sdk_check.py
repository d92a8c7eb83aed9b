"""Drives the llm-rotate gateway's Messages route with the official Anthropic Python SDK.

Reads ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN (the gateway token) from the
environment. The first argument picks the scenario; each prints one JSON line of what the
SDK parsed, and exits non-zero on any mismatch.

- `claude-code`: a Claude Code-shaped request (system blocks with cache_control,
  thinking, tools, metadata, an anthropic-beta header), plain and streamed.
- `tools`: a streamed tool call, then the tool_result turn.
- `errors`: a wrong token, and rate limits on every key.
- `fallback`: a chain whose Anthropic entry is overloaded, served by an OpenAI key.
"""

import json
import os
import sys

import anthropic
from anthropic import Anthropic

MODEL = "claude-sonnet-4-5"
BETA = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
TOOLS = [{"name": "weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def client(**kwargs) -> Anthropic:
    return Anthropic(auth_token=os.environ["ANTHROPIC_AUTH_TOKEN"], api_key=None, max_retries=0, timeout=30, **kwargs)


def claude_code() -> dict:
    c = client()
    request = dict(
        model=MODEL,
        max_tokens=2048,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}],
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=TOOLS,
        metadata={"user_id": "user_0123"},
        extra_headers={"anthropic-beta": BETA},
    )
    plain = c.messages.create(**request)
    assert plain.type == "message", plain
    assert plain.role == "assistant", plain
    texts = [b.text for b in plain.content if b.type == "text"]
    assert texts, plain
    assert plain.stop_reason == "end_turn", plain
    assert plain.usage.output_tokens > 0, plain.usage

    with c.messages.stream(**request) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    streamed = "".join(b.text for b in final.content if b.type == "text")
    assert "message_start" in events and "message_stop" in events, events
    assert final.stop_reason == "end_turn", final
    count = c.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello there, count me"}])
    assert count.input_tokens > 0, count
    return {"plain": "".join(texts), "streamed": streamed, "id": plain.id,
            "thinking": [b.type for b in plain.content], "count": count.input_tokens}


def tools() -> dict:
    c = client()
    history = [{"role": "user", "content": "Weather in Paris?"}]
    with c.messages.stream(model=MODEL, max_tokens=256, messages=history, tools=TOOLS) as stream:
        for _ in stream:
            pass
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use", first
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1, first
    call = calls[0]
    history.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    history.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]})
    second = c.messages.create(model=MODEL, max_tokens=256, messages=history, tools=TOOLS)
    answer = "".join(b.text for b in second.content if b.type == "text")
    return {"call_id": call.id, "name": call.name, "input": call.input, "answer": answer}


def errors() -> dict:
    wrong = Anthropic(api_key="not-the-token", max_retries=0, timeout=30)
    try:
        wrong.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("a wrong token must fail")
    except anthropic.AuthenticationError as error:
        assert error.status_code == 401
        assert error.body["type"] == "error", error.body
        auth_type = error.body["error"]["type"]
    try:
        client().messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("rate limits on every key must fail")
    except anthropic.RateLimitError as error:
        assert error.status_code == 429
        retry_after = error.response.headers.get("retry-after")
        limit_type = error.body["error"]["type"]
    try:
        client().messages.create(model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens="many")
        raise AssertionError("a bad max_tokens must fail")
    except anthropic.BadRequestError as error:
        bad = error.body["error"]["message"]
    return {"auth": auth_type, "limit": limit_type, "retry_after": retry_after, "bad": bad}


def fallback() -> dict:
    answer = client().messages.create(model="sturdy", max_tokens=64, system="Be brief.",
                                      messages=[{"role": "user", "content": "hello"}])
    assert answer.type == "message" and answer.role == "assistant", answer
    assert answer.stop_reason == "end_turn", answer
    return {"text": "".join(b.text for b in answer.content if b.type == "text"),
            "output_tokens": answer.usage.output_tokens}


def main() -> int:
    scenario = {"claude-code": claude_code, "tools": tools, "errors": errors, "fallback": fallback}[sys.argv[1]]
    summary = scenario()
    summary["sdk"] = anthropic.__version__
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
