"""Whole conversations in Python shapes: OpenAI-style messages and tools, a tool loop,
and the same loop crossing to Anthropic and Gemini, checked in the bodies sent."""

import base64
import json

import pytest

from llm_rotate import ChatMessage, ContentPart, ProviderError, LMRotate, configure_from_dict

from conftest import registry

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
CALL = {"id": "call_w1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def client(upstream, *keys):
    return LMRotate(configure_from_dict(registry(upstream, list(keys)), [k for k, _ in keys]))


async def test_openai_tool_loop_in_openai_shapes(upstream):
    c = client(upstream, ("o", "openai"))
    upstream.script("sk-test-o", [{"tool_calls": [CALL]}])
    history = [{"role": "user", "content": "Weather in Paris?"}]
    first = await c.chat("gpt-4o", history, tools=TOOLS, tool_choice="auto", parallel_tool_calls=False)
    assert first.finish_reason == "tool_calls"
    assert [(t.id, t.name, t.arguments_json()) for t in first.tool_calls] == [("call_w1", "get_weather", {"city": "Paris"})]
    history += [first.message(), {"role": "tool", "tool_call_id": "call_w1", "content": "18C and sunny"}]
    second = await c.chat("gpt-4o", history, tools=TOOLS)
    assert second.content == "ok from sk-test-o"
    sent = upstream.requests()
    assert sent[0]["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert sent[0]["body"]["tool_choice"] == "auto" and sent[0]["body"]["parallel_tool_calls"] is False
    turn = sent[1]["body"]["messages"]
    assert turn[1]["role"] == "assistant" and turn[1]["tool_calls"][0]["id"] == "call_w1"
    assert turn[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert turn[2] == {"role": "tool", "tool_call_id": "call_w1", "content": "18C and sunny"}


async def test_the_second_turn_crosses_to_anthropic_with_its_history_translated(upstream):
    c = client(upstream, ("o", "openai"), ("c", "anthropic"))
    upstream.script("sk-test-o", [{"tool_calls": [CALL]}])
    history = [{"role": "system", "content": "Be brief"},
               {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                                            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]
    first = await c.chat("gpt-4o", history, tools=TOOLS)
    history += [first.message(), {"role": "tool", "tool_call_id": "call_w1", "content": "18C"}]
    second = await c.chat("claude-sonnet-4-5", history, provider="anthropic", tools=TOOLS, max_tokens=100)
    assert second.provider == "anthropic"
    body = [r for r in upstream.requests() if r["api"] == "anthropic"][0]["body"]
    assert body["system"] == "Be brief"
    assert body["tools"][0] == {"name": "get_weather", "description": "The weather in a city",
                                "input_schema": TOOLS[0]["function"]["parameters"]}
    user, assistant, result = body["messages"]
    assert user["content"][1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert assistant["content"][0] == {"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}}
    assert result["role"] == "user" and result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == "call_w1"


async def test_the_loop_crosses_to_gemini(upstream):
    c = client(upstream, ("o", "openai"), ("g", "google"))
    upstream.script("sk-test-o", [{"tool_calls": [CALL]}])
    history = [ChatMessage.user("Weather in Paris?")]
    first = await c.chat("gpt-4o", history, tools=TOOLS)
    history += [first.message(), ChatMessage.tool_result("call_w1", '{"temp": 18}')]
    second = await c.chat("gemini-2.5-flash", history, provider="google", tools=TOOLS)
    assert second.provider == "google"
    body = [r for r in upstream.requests() if r["api"] == "gemini"][0]["body"]
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    model_turn, answer = body["contents"][1], body["contents"][2]
    assert model_turn["parts"][0]["functionCall"]["name"] == "get_weather"
    assert model_turn["parts"][0]["functionCall"]["args"] == {"city": "Paris"}
    assert answer["parts"][0]["functionResponse"]["name"] == "get_weather"


async def test_anthropic_thinking_comes_back_signed_and_goes_back_verbatim(upstream):
    c = client(upstream, ("c", "anthropic"))
    upstream.script("sk-test-c", [{"tool_calls": [CALL]}])
    history = [{"role": "user", "content": "Weather?"}]
    first = await c.chat("claude-sonnet-4-5", history, tools=TOOLS, reasoning_budget_tokens=2048, max_tokens=4096)
    assert first.reasoning and first.reasoning[0]["signature"]
    history += [first.message(), {"role": "tool", "tool_call_id": "call_w1", "content": "18C"}]
    await c.chat("claude-sonnet-4-5", history, tools=TOOLS, reasoning_budget_tokens=2048, max_tokens=4096)
    sent = upstream.requests()
    assert sent[0]["body"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    block = sent[1]["body"]["messages"][1]["content"][0]
    assert block["type"] == "thinking" and block["signature"] == first.reasoning[0]["signature"]


async def test_response_format_from_a_pydantic_model(upstream):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    c = client(upstream, ("o", "openai"))
    await c.chat("gpt-4o", [{"role": "user", "content": "A city"}], response_format=City, seed=3)
    body = upstream.requests()[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "City"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["name"]["type"] == "string"
    assert body["seed"] == 3  # a **kwarg reaches the vendor as extra


async def test_audio_to_anthropic_fails_before_any_call(upstream):
    c = client(upstream, ("c", "anthropic"))
    audio = ContentPart.audio(b"RIFF....WAVE", "wav")
    with pytest.raises(ProviderError, match="Anthropic takes no audio input") as caught:
        await c.chat("claude-sonnet-4-5", [ChatMessage.user([audio])])
    assert caught.value.kind == "configuration" and caught.value.provider == "anthropic"
    assert upstream.requests() == []


async def test_refusals_are_typed(upstream):
    c = client(upstream, ("o", "openai"))
    upstream.script("sk-test-o", [{"refusal": "I can't help with that."}])
    reply = await c.chat("gpt-4o", [{"role": "user", "content": "x"}])
    assert reply.refusal == "I can't help with that."
