"""Every example of the API reference, as written there, against the fake upstream."""

import json

import pytest

from llm_rotate import (
    configure, lm, LMRotate, LMRotateConfig,
    configure_from_dict, configure_from_file,
    AcquireContext, HealthReport, ContentPart, GenerateContentRequest,
    ConfigurationError, LMRotateError, NoAvailableKeyError, __version__,
)
from llm_rotate import ChatResponse, StreamChunk, DefaultsConfig, FallbackEntry, StateStoreConfig, KeyConfig, ProviderConfig

from conftest import registry, ids_called


def test_version_is_the_crates():
    assert __version__.count(".") == 2 and __version__[0].isdigit()


def test_config_models_have_the_references_defaults():
    d = DefaultsConfig()
    assert (d.selection_strategy, d.max_retries, d.cooldown_seconds, d.quarantine_seconds, d.max_consecutive_failures) == (
        "health_aware", 3, 60, 300, 5)
    assert FallbackEntry(provider="openai").upstream is None
    s = StateStoreConfig()
    assert (s.backend, s.redis_url, s.redis_namespace) == ("memory", "redis://localhost:6379/0", "llmrotate")
    assert set(LMRotateConfig.model_fields) >= {"defaults", "providers", "keys", "fallback_chains", "state_store"}
    k = KeyConfig(id="a", provider="openai", value="sk-x")
    assert (k.weight, k.priority, k.enabled) == (1, 0, True)
    assert ProviderConfig().base_url is None


async def test_configure_then_lm_chat_stream_health_usage(upstream):
    configure(["o1", "o2"], registry=registry(upstream, [("o1", "openai"), ("o2", "openai"), ("unused", "openai")]),
              strategy="round_robin")
    first = await lm.chat("gpt-4o", [{"role": "user", "content": "hi"}], max_tokens=16, temperature=0.2)
    second = await lm.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    assert isinstance(first, ChatResponse)
    assert {first.key_id, second.key_id} == {"o1", "o2"}
    assert first.content == f"ok from sk-test-{first.key_id}"
    assert (first.provider, first.model, first.finish_reason) == ("openai", "gpt-4o", "stop")
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0
    assert first.usage == second.usage and first.usage.to_dict() == {
        "prompt_tokens": first.usage.prompt_tokens, "completion_tokens": first.usage.completion_tokens,
        "total_tokens": first.usage.total_tokens, "cached_tokens": 0, "reasoning_tokens": 0,
        "cache_write_tokens": 0}
    assert first.latency_ms > 0 and first.raw["object"] == "chat.completion"
    body = upstream.requests()[0]["body"]
    assert body["max_tokens"] == 16 and body["temperature"] == pytest.approx(0.2)

    chunks = [c async for c in lm.chat_stream("gpt-4o", [{"role": "user", "content": "hi"}])]
    assert all(isinstance(c, StreamChunk) for c in chunks)
    assert "".join(c.delta for c in chunks).startswith("ok from sk-test-o")
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert chunks[0].provider == "openai" and chunks[0].model == "gpt-4o"

    report = await lm.health()
    assert isinstance(report, HealthReport)
    assert [k.key_id for k in report.keys] == ["o1", "o2"]
    assert report.strategy == "round_robin" and report.store.backend == "memory"
    assert report.providers[0].available_keys == 2
    usage = await lm.usage_summary()
    assert usage["total"]["requests"] == 3 and set(usage["by_key"]) == {"o1", "o2"}
    await lm.close()
    with pytest.raises(LMRotateError):
        await lm.chat("gpt-4o", [{"role": "user", "content": "hi"}])


def test_chat_sync_from_plain_code(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]))
    reply = client.chat_sync("gpt-4o", [{"role": "user", "content": "hi"}])
    assert reply.content == "ok from sk-test-a"


async def test_generate_content_with_a_pdf(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("g", "google")]), ["g"]))
    reply = await client.generate_content(
        "gemini-2.5-flash",
        ["Summarise this", ContentPart.pdf_bytes(b"%PDF-1.4 tiny")],
        system_instruction="Be brief",
        response_mime_type="text/plain",
        max_output_tokens=64,
        temperature=0.1,
        top_p=0.9,
        seed=7,
        thinking_budget=0,
        candidate_count=1,
    )
    assert reply.content == "ok from sk-test-g" and reply.provider == "google"
    sent = upstream.requests()[-1]["body"]
    parts = sent["contents"][0]["parts"]
    assert parts[0] == {"text": "Summarise this"}
    assert parts[1]["inlineData"]["mimeType"] == "application/pdf"
    assert sent["systemInstruction"]["parts"][0]["text"] == "Be brief"
    config = sent["generationConfig"]
    assert (config["maxOutputTokens"], config["seed"], config["thinkingConfig"]["thinkingBudget"]) == (64, 7, 0)
    assert config["candidateCount"] == 1  # a **kwarg, where Gemini wants it
    chunks = [c async for c in client.generate_content_stream("gemini-2.5-flash", ["hi"])]
    assert "".join(c.delta for c in chunks) == "ok from sk-test-g"


async def test_generate_content_refuses_other_providers(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]))
    with pytest.raises(ConfigurationError):
        await client.generate_content("gpt-4o", ["hi"])
    assert upstream.requests() == []


def test_generate_content_request_is_public(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("g", "google")]), ["g"]))
    request = client.build_generate_request(["Summarise", ContentPart.text_part("this")], max_output_tokens=9)
    assert isinstance(request, GenerateContentRequest)
    assert request.max_output_tokens == 9 and request.disable_automatic_function_calling is True
    assert len(request.contents) == 1 and len(request.contents[0]["parts"]) == 2


async def test_acquire_as_async_context_manager(upstream):
    client = LMRotate(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]))
    async with client.acquire("openai", model="gpt-4o") as ctx:
        assert isinstance(ctx, AcquireContext)
        assert (ctx.key_value, ctx.provider, ctx.key_id, ctx.metadata) == ("sk-test-a", "openai", "a", {})
        await ctx.report_success(upstream_provider=None)
    summary = await client.usage_summary()
    assert summary["by_key"]["a"]["successes"] == 1


def test_configure_from_file_json_and_yaml(tmp_path, upstream):
    reg = registry(upstream, [("a", "openai"), ("b", "openai")])
    path = tmp_path / "llm.json"
    path.write_text(json.dumps(dict(reg, use_keys=["a"])))
    config = configure_from_file(path)
    assert isinstance(config, LMRotateConfig) and [k.id for k in config.keys] == ["a"]
    assert [k.id for k in configure_from_file(str(path), use_keys=["b"]).keys] == ["b"]
    yaml_path = tmp_path / "llm.yaml"
    yaml_path.write_text(
        "keys:\n  - id: y\n    provider: openai\n    value: sk-test-y\n"
        f"providers:\n  openai:\n    base_url: {upstream.base_url}\n"
    )
    client = LMRotate(configure_from_file(yaml_path, use_keys=["y"]))
    assert client.chat_sync("gpt-4o", [{"role": "user", "content": "hi"}]).key_id == "y"


async def test_reload_config_keeps_health_of_surviving_keys(upstream):
    reg = registry(upstream, [("a", "openai"), ("b", "openai")])
    client = LMRotate(configure_from_dict(reg, ["a"]))
    upstream.script("sk-test-a", [{"rate_limited": 30}])
    with pytest.raises(LMRotateError) as caught:
        await client.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    assert (caught.value.kind, caught.value.status, caught.value.retry_after) == ("rate_limited", 429, 30.0)
    with pytest.raises(NoAvailableKeyError) as none_left:
        await client.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    assert none_left.value.retry_in > 0 and none_left.value.model == "gpt-4o"
    client.reload_config(configure_from_dict(reg, ["a", "b"]))
    reply = await client.chat("gpt-4o", [{"role": "user", "content": "hi"}])
    assert reply.key_id == "b"
    states = {k.key_id: k.state for k in (await client.health()).keys}
    assert states == {"a": "cooling_down", "b": "healthy"}


async def test_fallback_chains_argument(upstream):
    configure(
        ["o", "c"],
        registry=registry(upstream, [("o", "openai"), ("c", "anthropic")]),
        fallback_chains={"smart": [{"provider": "openai", "upstream": "gpt-4o"},
                                   {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}]},
        priorities={"o": 1, "c": 2},
    )
    upstream.script("sk-test-o", [{"server_error": 500}] * 4)
    reply = await lm.chat("smart", [{"role": "user", "content": "hi"}])
    assert (reply.provider, reply.model, reply.key_id) == ("anthropic", "claude-sonnet-4-5", "c")
    assert ids_called(upstream) == ["o", "c"]
