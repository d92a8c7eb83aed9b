"""Fixtures: the fake vendor upstream (the testkit's, built into the test build of
the extension), configs pointing at it, and engines on a manual clock."""

import subprocess
import uuid

import pytest

import llm_rotate
from llm_rotate import LMRotate
from llm_rotate._native import testing
from llm_rotate._singleton import _reset


def key_value(key_id: str) -> str:
    """The value of the test key `key_id` (the fake answers `ok from <value>`)."""
    return f"sk-test-{key_id}"


@pytest.fixture
def upstream():
    return testing.FakeUpstream()


def registry(upstream, keys, **defaults):
    """A registry whose providers point at `upstream`, one key per (id, provider)."""
    return {
        "defaults": defaults,
        "providers": {
            "openai": {"base_url": upstream.base_url},
            "anthropic": {"base_url": upstream.base_url},
            "google": {"base_url": upstream.url + "/v1beta"},
        },
        "keys": [{"id": i, "provider": p, "value": key_value(i)} for i, p in keys],
    }


def client_on_clock(config, clock):
    """An LMRotate whose health machine runs on `clock`."""
    if isinstance(config, dict):
        config = llm_rotate.LMRotateConfig.model_validate(config)
    engine = testing.engine_with_clock(llm_rotate._config.engine_config(config), clock)
    return LMRotate._on_engine(engine, config)


def ids_called(upstream):
    return [k.removeprefix("sk-test-") for k in upstream.keys_called()]


@pytest.fixture(autouse=True)
def fresh_singleton():
    _reset()
    yield
    _reset()


@pytest.fixture
def namespace():
    """A unique Redis namespace, deleted afterwards."""
    ns = f"llmrotate-py-test-{uuid.uuid4().hex[:12]}"
    yield ns
    keys = subprocess.run(
        ["redis-cli", "--scan", "--pattern", f"{ns}*"], capture_output=True, text=True
    ).stdout.split()
    if keys:
        subprocess.run(["redis-cli", "del", *keys], capture_output=True)
