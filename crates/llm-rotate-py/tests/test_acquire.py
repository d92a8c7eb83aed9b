"""acquire(): a borrowed key reported back to the health machine."""

import pytest

from llm_rotate import LMRotateError, configure_from_dict
from llm_rotate._native import testing

from conftest import client_on_clock, registry


class Headers(dict):
    def get(self, name, default=None):
        return super().get(name.lower(), default)


class Response:
    def __init__(self, status, headers):
        self.status_code = status
        self.headers = Headers(headers)


class VendorRateLimit(Exception):
    """Shaped like the official SDKs' APIStatusError."""

    def __init__(self, retry_after):
        super().__init__("Error code: 429 - rate limited")
        self.status_code = 429
        self.response = Response(429, {"retry-after": str(retry_after)})


def client(upstream, clock=None):
    reg = registry(upstream, [("a", "openai"), ("b", "openai")])
    return client_on_clock(configure_from_dict(reg, ["a", "b"], strategy="priority", priorities={"a": 0, "b": 1}),
                           clock or testing.ManualClock())


async def states(c):
    return {k.key_id: k.state for k in (await c.health()).keys}


async def test_report_error_with_a_vendor_exception_cools_the_key_for_its_retry_after(upstream):
    clock = testing.ManualClock()
    c = client(upstream, clock)
    async with c.acquire("openai") as ctx:
        assert ctx.key_id == "a"
        await ctx.report_error(VendorRateLimit(42))
    keys = {k.key_id: k for k in (await c.health()).keys}
    assert keys["a"].state == "cooling_down" and 41_000 <= keys["a"].available_in_ms <= 42_000
    async with c.acquire("openai") as ctx:
        assert ctx.key_id == "b"
        ctx.report_success()  # not awaited: still recorded
    clock.advance(43)
    async with c.acquire("openai") as ctx:
        assert ctx.key_id == "a"
    usage = await c.usage_summary()
    assert usage["by_key"]["b"]["successes"] == 1


async def test_report_error_with_a_status(upstream):
    c = client(upstream)
    async with c.acquire("openai") as ctx:
        await ctx.report_error(401)
    assert (await states(c))["a"] in ("quarantined", "disabled")


async def test_an_exception_leaving_the_block_is_reported_for_you(upstream):
    c = client(upstream)
    with pytest.raises(VendorRateLimit):
        async with c.acquire("openai"):
            raise VendorRateLimit(30)
    assert (await states(c))["a"] == "cooling_down"


async def test_an_exception_that_says_nothing_about_the_key_is_not_blamed_on_it(upstream):
    c = client(upstream)
    with pytest.raises(KeyError):
        async with c.acquire("openai"):
            raise KeyError("my own bug")
    assert (await states(c)) == {"a": "healthy", "b": "healthy"}
    assert (await c.usage_summary())["total"]["failures"] == 0


async def test_a_clean_exit_records_nothing_and_frees_the_slot(upstream):
    c = client(upstream)
    async with c.acquire("openai") as ctx:
        assert (await c.health()).keys[0].in_flight == 1
    assert ctx.done
    report = await c.health()
    assert report.keys[0].in_flight == 0 and report.keys[0].requests == 0


async def test_a_second_report_raises(upstream):
    c = client(upstream)
    async with c.acquire("openai") as ctx:
        await ctx.report_success()
        with pytest.raises(LMRotateError, match="already reported"):
            ctx.report_error(500)


async def test_acquire_for_an_unknown_provider_raises(upstream):
    c = client(upstream)
    with pytest.raises(LMRotateError):
        async with c.acquire("nobody"):
            pass
