"""acquire() with the official OpenAI and Anthropic SDKs on the borrowed key: their own
exceptions, reported back, cool or count against the key as the engine's calls do."""

import anthropic
import openai
import pytest

from llm_rotate import configure_from_dict
from llm_rotate._native import testing

from conftest import client_on_clock, registry

HI = [{"role": "user", "content": "hi"}]


def two_keys(upstream, provider):
    reg = registry(upstream, [("a", provider), ("b", provider)])
    return client_on_clock(configure_from_dict(reg, ["a", "b"], strategy="priority", priorities={"a": 0, "b": 1}),
                           testing.ManualClock())


async def test_the_openai_sdks_rate_limit_error_cools_the_key_for_its_retry_after(upstream):
    client = two_keys(upstream, "openai")
    upstream.script("sk-test-a", [{"rate_limited": 30}])
    async with client.acquire("openai", model="gpt-4o") as ctx:
        sdk = openai.AsyncOpenAI(api_key=ctx.key_value, base_url=ctx.base_url, max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            await sdk.chat.completions.create(model="gpt-4o", messages=HI)
        ctx.report_error(caught.value)
    keys = {k.key_id: k for k in (await client.health()).keys}
    assert keys["a"].state == "cooling_down" and 29_000 <= keys["a"].available_in_ms <= 30_000
    async with client.acquire("openai", model="gpt-4o") as ctx:
        assert ctx.key_id == "b"
        sdk = openai.AsyncOpenAI(api_key=ctx.key_value, base_url=ctx.base_url, max_retries=0)
        answer = await sdk.chat.completions.create(model="gpt-4o", messages=HI)
        assert answer.choices[0].message.content == "ok from sk-test-b"
        ctx.report_success()
    assert (await client.usage_summary())["by_key"]["b"]["successes"] == 1


async def test_an_anthropic_sdk_error_leaving_the_block_is_reported_for_you(upstream):
    client = two_keys(upstream, "anthropic")
    upstream.script("sk-test-a", ["unauthorized"])
    with pytest.raises(anthropic.AuthenticationError):
        async with client.acquire("anthropic") as ctx:
            sdk = anthropic.AsyncAnthropic(api_key=ctx.key_value, base_url=ctx.base_url.removesuffix("/v1"),
                                           max_retries=0)
            await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HI)
    keys = {k.key_id: k for k in (await client.health()).keys}
    assert keys["a"].state in ("quarantined", "disabled") and keys["a"].failures == 1
    async with client.acquire("anthropic") as ctx:
        assert ctx.key_id == "b"
        sdk = anthropic.AsyncAnthropic(api_key=ctx.key_value, base_url=ctx.base_url.removesuffix("/v1"),
                                       max_retries=0)
        message = await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HI)
        assert message.content[0].text == "ok from sk-test-b"
        await ctx.report_success()
