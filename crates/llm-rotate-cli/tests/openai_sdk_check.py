"""Drives the llm-rotate gateway with the official OpenAI Python SDK.

Reads OPENAI_BASE_URL and OPENAI_API_KEY (the gateway token) from the environment, makes
a plain and a streamed chat completion, checks what the SDK parsed, and prints one JSON
line summarising it. With the argument `tools` it runs a two-turn tool loop instead;
with `fidelity`, the fields only OpenAI-family keys carry and a translation to Anthropic.
Exits non-zero on any mismatch.
"""

import json
import sys

import openai
from openai import OpenAI


def main() -> int:
    client = OpenAI(max_retries=0, timeout=30)
    plain = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello"},
        ],
        max_tokens=20,
        temperature=0.2,
    )
    assert plain.object == "chat.completion", plain
    assert plain.choices[0].message.role == "assistant", plain
    assert plain.choices[0].message.content == "hello from the fake upstream", plain
    assert plain.choices[0].finish_reason == "stop", plain
    assert plain.usage.total_tokens == plain.usage.prompt_tokens + plain.usage.completion_tokens

    pieces = []
    usage = None
    finish = None
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    streamed = "".join(pieces)
    assert streamed == "hello from the fake upstream", streamed
    assert finish == "stop", finish
    assert usage is not None and usage.completion_tokens == 5, usage

    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("an unknown model must fail")
    except openai.NotFoundError as error:
        assert error.status_code == 404

    bad = OpenAI(api_key="not-the-token", max_retries=0)
    try:
        bad.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("a wrong token must fail")
    except openai.AuthenticationError as error:
        assert error.status_code == 401

    models = [m.id for m in client.models.list()]
    print(json.dumps({"sdk": openai.__version__, "plain": plain.choices[0].message.content,
                      "streamed": streamed, "completion_tokens": usage.completion_tokens, "models": models}))
    return 0


def tool_loop() -> int:
    client = OpenAI(max_retries=0, timeout=30)
    tools = [{"type": "function", "function": {"name": "weather", "description": "Weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    history = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=history, tools=tools)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls", first
    assert message.content is None, message
    call = message.tool_calls[0]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}, call
    history.append(message.model_dump(exclude_none=True))
    history.append({"role": "tool", "tool_call_id": call.id, "content": "18 C"})
    second = client.chat.completions.create(model="gpt-4o", messages=history, tools=tools)
    print(json.dumps({"call_id": call.id, "answer": second.choices[0].message.content}))
    return 0


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def fidelity() -> int:
    """What only an OpenAI-family key carries, and what crosses to an Anthropic key."""
    client = OpenAI(max_retries=0, timeout=30)
    out = {}

    two = client.chat.completions.create(model="smart", messages=[{"role": "user", "content": "two please"}],
                                         n=2, logprobs=True, top_logprobs=1)
    assert len(two.choices) == 2, two
    out["n"] = [c.message.content for c in two.choices]
    out["logprob_token"] = two.choices[0].logprobs.content[0].token
    out["system_fingerprint"] = two.system_fingerprint
    out["service_tier"] = two.service_tier

    pieces, usages = [], []
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, max_completion_tokens=33,
        messages=[{"role": "developer", "content": "be brief"}, {"role": "user", "content": "stream"}])
    for chunk in stream:
        usages.append(chunk.usage)
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
    out["streamed"] = "".join(pieces)
    out["usage_chunks"] = sum(1 for u in usages if u is not None)

    refused = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bad idea"}])
    out["refusal"] = refused.choices[0].message.refusal

    try:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "long"}])
        raise AssertionError("context length must fail")
    except openai.BadRequestError as error:
        out["error"] = {"code": error.code, "param": error.param, "type": error.type}

    tools = [{"type": "function", "function": {"name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    calls = {}
    finish = None
    stream = client.chat.completions.create(
        model="smart", stream=True, tools=tools, tool_choice="auto",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "Weather where these were taken?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
            {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg"}}]}])
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for piece in choice.delta.tool_calls or []:
                call = calls.setdefault(piece.index, {"id": None, "name": None, "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function:
                    call["name"] = piece.function.name or call["name"]
                    call["arguments"] += piece.function.arguments or ""
    out["tool_calls"] = [calls[i] for i in sorted(calls)]
    out["tool_finish"] = finish

    fell = client.chat.completions.create(model="sturdy", messages=[{"role": "user", "content": "fall over"}])
    out["fallback"] = fell.choices[0].message.content
    print(json.dumps(out))
    return 0


def embeddings() -> int:
    """Embeddings from an OpenAI key (the SDK's base64 default passes through) and from a
    Gemini key (translated, written back in base64)."""
    client = OpenAI(max_retries=0, timeout=30)
    out = {}
    for model in ["text-embedding-3-small", "gemini-embedding-001"]:
        answer = client.embeddings.create(model=model, input=["a cat", "a much longer dog"], dimensions=5)
        assert [d.index for d in answer.data] == [0, 1], answer
        out[model] = {"vectors": [d.embedding for d in answer.data], "prompt_tokens": answer.usage.prompt_tokens}
    print(json.dumps(out))
    return 0


def responses() -> int:
    """The Responses API: whole and streamed from an OpenAI key (passed through), from an
    Anthropic key (translated, a function call and a stream), and a request holding
    `previous_response_id` kept on the OpenAI key."""
    client = OpenAI(max_retries=0, timeout=30)
    out = {}
    plain = client.responses.create(model="gpt-4o", instructions="Be brief.", input="hello", store=False)
    out["plain"] = {"id": plain.id, "text": plain.output_text, "input_tokens": plain.usage.input_tokens}
    kinds, text = [], []
    with client.responses.stream(model="gpt-4o", input=[{"role": "user", "content": [{"type": "input_text", "text": "stream"}]}]) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text.append(event.delta)
        final = stream.get_final_response()
    out["streamed"] = {"text": "".join(text), "final": final.output_text, "first": kinds[0], "last": kinds[-1]}

    tools = [{"type": "function", "name": "weather", "description": "Weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    called = client.responses.create(model="claude-sonnet-4-5", input="Weather in Paris?", tools=tools)
    calls = [item for item in called.output if item.type == "function_call"]
    assert len(calls) == 1, called
    followed = client.responses.create(model="claude-sonnet-4-5", tools=tools, input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": calls[0].call_id, "name": calls[0].name, "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C"}])
    events, deltas = [], []
    stream = client.responses.create(model="claude-sonnet-4-5", input="stream please", stream=True)
    for event in stream:
        events.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            completed = event.response
    out["translated"] = {"call": {"call_id": calls[0].call_id, "name": calls[0].name, "arguments": calls[0].arguments},
                         "answer": followed.output_text, "streamed": "".join(deltas),
                         "completed_text": completed.output_text, "events": events}
    kept = client.responses.create(model="smart", input="and then?", previous_response_id=plain.id)
    out["kept"] = kept.output_text
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    scenario = sys.argv[1] if len(sys.argv) > 1 else "basics"
    scenarios = {"basics": main, "tools": tool_loop, "fidelity": fidelity, "embeddings": embeddings,
                 "responses": responses}
    sys.exit(scenarios[scenario]())
