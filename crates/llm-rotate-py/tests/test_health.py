"""Rotation, cooldown, quarantine and fallback, on a manual clock (no sleeps)."""

import pytest

from llm_rotate import ExhaustedError, LMRotateError, NoAvailableKeyError, configure_from_dict
from llm_rotate._native import testing

from conftest import client_on_clock, ids_called, registry

HI = [{"role": "user", "content": "hi"}]


async def test_round_robin_rotates_every_key(upstream):
    client = client_on_clock(
        configure_from_dict(registry(upstream, [("a", "openai"), ("b", "openai"), ("c", "openai")]),
                            ["a", "b", "c"], strategy="round_robin"),
        testing.ManualClock(),
    )
    served = [(await client.chat("gpt-4o", HI)).key_id for _ in range(6)]
    assert served == ["a", "b", "c", "a", "b", "c"]


async def test_a_429_cools_the_key_until_the_clock_passes_its_retry_after(upstream):
    clock = testing.ManualClock()
    client = client_on_clock(
        configure_from_dict(registry(upstream, [("a", "openai"), ("b", "openai")]), ["a", "b"], strategy="priority",
                            priorities={"a": 0, "b": 1}),
        clock,
    )
    upstream.script("sk-test-a", [{"rate_limited": 20}])
    first = await client.chat("gpt-4o", HI)
    assert first.key_id == "b"  # a answered 429, b served the same call
    keys = {k.key_id: k for k in (await client.health()).keys}
    assert keys["a"].state == "cooling_down" and 19_000 <= keys["a"].available_in_ms <= 20_000
    assert (await client.chat("gpt-4o", HI)).key_id == "b"
    clock.advance(21)
    assert (await client.chat("gpt-4o", HI)).key_id == "a"
    assert ids_called(upstream) == ["a", "b", "b", "a"]


async def test_failures_in_a_row_quarantine_a_key_and_it_comes_back(upstream):
    clock = testing.ManualClock()
    reg = registry(upstream, [("a", "openai"), ("b", "openai"), ("c", "openai")],
                   max_consecutive_failures=2, quarantine_seconds=100, max_retries=0)
    client = client_on_clock(configure_from_dict(reg, ["a", "b", "c"], strategy="round_robin"), clock)
    upstream.set_default("sk-test-a", {"server_error": 500})
    for _ in range(6):
        try:
            await client.chat("gpt-4o", HI)
        except LMRotateError:
            pass
    states = {k.key_id: k.state for k in (await client.health()).keys}
    assert states["a"] == "quarantined" and states["b"] == states["c"] == "healthy"
    calls_to_a = ids_called(upstream).count("a")
    for _ in range(6):
        assert (await client.chat("gpt-4o", HI)).key_id in ("b", "c")
    assert ids_called(upstream).count("a") == calls_to_a
    upstream.set_default("sk-test-a", "ok")
    clock.advance(101)
    served = {(await client.chat("gpt-4o", HI)).key_id for _ in range(6)}
    assert "a" in served


async def test_every_key_resting_raises_no_available_key_with_retry_in(upstream):
    client = client_on_clock(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]), testing.ManualClock())
    upstream.script("sk-test-a", [{"rate_limited": 5}])
    with pytest.raises(ExhaustedError) as exhausted:
        await client.chat("gpt-4o", HI)
    assert exhausted.value.attempts[0]["key_id"] == "a" and exhausted.value.attempts[0]["status"] == 429
    with pytest.raises(NoAvailableKeyError) as none:
        await client.chat("gpt-4o", HI)
    assert none.value.providers == ["openai"] and 4 <= none.value.retry_in <= 5
    assert isinstance(none.value, LMRotateError) and none.value.kind == "no_available_key"


async def test_a_chain_falls_over_to_another_vendor_and_model(upstream):
    reg = registry(upstream, [("o", "openai"), ("c", "anthropic")])
    reg["fallback_chains"] = {"smart": [{"provider": "openai", "upstream": "gpt-4o"},
                                        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}]}
    client = client_on_clock(configure_from_dict(reg, ["o", "c"]), testing.ManualClock())
    upstream.script("sk-test-o", ["overloaded"])
    reply = await client.chat("smart", [{"role": "system", "content": "Be brief"}, *HI])
    assert (reply.provider, reply.model, reply.content) == ("anthropic", "claude-sonnet-4-5", "ok from sk-test-c")
    anthropic = [r for r in upstream.requests() if r["api"] == "anthropic"][0]
    assert anthropic["body"]["system"] == "Be brief" and anthropic["body"]["model"] == "claude-sonnet-4-5"


async def test_a_caller_error_is_not_retried(upstream):
    client = client_on_clock(configure_from_dict(registry(upstream, [("a", "openai"), ("b", "openai")]), ["a", "b"]),
                             testing.ManualClock())
    upstream.script("sk-test-a", ["bad_request"])
    upstream.script("sk-test-b", ["bad_request"])
    from llm_rotate import ProviderError
    with pytest.raises(ProviderError) as caught:
        await client.chat("gpt-4o", HI)
    assert caught.value.status == 400 and caught.value.kind == "invalid_request"
    assert len(upstream.keys_called()) == 1
