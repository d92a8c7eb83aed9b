"""Bad input: the TypeError or ConfigurationError a Python user expects, naming the
argument or the config path; never a crash or a hang."""

import pytest

from llm_rotate import (
    ConfigurationError, LMRotate, LMRotateError, configure, configure_from_dict, configure_from_file, lm,
)

from conftest import registry

HI = [{"role": "user", "content": "hi"}]


def client(upstream):
    return LMRotate(configure_from_dict(registry(upstream, [("a", "openai")]), ["a"]))


def test_a_bad_field_names_its_path(upstream):
    reg = registry(upstream, [("a", "openai"), ("b", "openai"), ("c", "openai")])
    del reg["keys"][2]["provider"]
    with pytest.raises(ConfigurationError) as caught:
        configure_from_dict(reg, ["a", "b", "c"])
    assert caught.value.path == "keys[2]" and "provider" in caught.value.message
    reg["keys"][2]["provider"] = "nobody-knows"
    with pytest.raises(ConfigurationError) as caught:
        configure_from_dict(reg, ["a", "b", "c"])
    assert caught.value.path == "keys[2].provider"
    assert "keys[2].provider" in str(caught.value)


def test_an_unknown_field_is_named_with_the_nearest_one(upstream):
    reg = registry(upstream, [("a", "openai")])
    reg["defaults"]["cooldown_secs"] = 5
    with pytest.raises(ConfigurationError, match="cooldown_seconds") as caught:
        configure_from_dict(reg, ["a"])
    assert caught.value.path.startswith("defaults")


def test_unknown_keys_strategies_and_files(upstream, tmp_path):
    reg = registry(upstream, [("a", "openai")])
    with pytest.raises(ConfigurationError, match="use_keys"):
        configure_from_dict(reg, ["zz"])
    with pytest.raises(ConfigurationError, match="strategy"):
        configure_from_dict(reg, ["a"], strategy="fastest")
    with pytest.raises(ConfigurationError, match="cannot read"):
        configure_from_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        configure_from_file(broken)


def test_wrong_argument_types_raise_type_error_naming_them(upstream):
    c = client(upstream)
    with pytest.raises(TypeError, match="model"):
        c.chat_sync(123, HI)
    with pytest.raises(TypeError, match="messages"):
        c.chat_sync("gpt-4o", "hi")
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        c.chat_sync("gpt-4o", [42])
    with pytest.raises(TypeError, match=r"messages\[0\].role"):
        c.chat_sync("gpt-4o", [{"role": "robot", "content": "x"}])
    with pytest.raises(TypeError, match="max_tokens"):
        c.chat_sync("gpt-4o", HI, max_tokens="many")
    with pytest.raises(ValueError, match="max_tokens"):
        c.chat_sync("gpt-4o", HI, max_tokens=-1)
    with pytest.raises(ValueError, match="max_retries"):
        c.chat_sync("gpt-4o", HI, max_retries=2**40)
    with pytest.raises(ValueError, match="timeout"):
        c.chat_sync("gpt-4o", HI, timeout=-1)
    with pytest.raises(TypeError, match=r"options.extra.foo"):
        c.chat_sync("gpt-4o", HI, foo=object())
    with pytest.raises(TypeError, match="tool_choice"):
        c.chat_sync("gpt-4o", HI, tool_choice="sometimes")
    with pytest.raises(TypeError, match=r"tools\[0\]"):
        c.chat_sync("gpt-4o", HI, tools=[{"type": "function"}])
    with pytest.raises(TypeError, match="provider"):
        c.chat_sync("gpt-4o", HI, provider=7)
    with pytest.raises(TypeError):
        configure(registry={}, use_keys=[], bogus=1)
    with pytest.raises(TypeError, match="registry"):
        configure_from_dict("not a dict", ["a"])
    assert upstream.requests() == []


def test_configure_rules():
    with pytest.raises(ConfigurationError, match="registry"):
        configure()
    with pytest.raises(ConfigurationError, match="use_keys"):
        configure(registry={"keys": []})


def test_lm_before_configure_raises():
    with pytest.raises(ConfigurationError, match="configure"):
        lm.chat_sync("gpt-4o", HI)


def test_configure_twice_raises_and_keeps_the_first(upstream):
    configure(["a"], registry=registry(upstream, [("a", "openai"), ("b", "openai")]))
    with pytest.raises(ConfigurationError, match="already"):
        configure(["b"], registry=registry(upstream, [("a", "openai"), ("b", "openai")]))
    assert lm.chat_sync("gpt-4o", HI).key_id == "a"


async def test_malformed_upstream_bodies_are_errors_not_crashes(upstream):
    c = client(upstream)
    upstream.set_default("sk-test-a", "malformed_json")
    with pytest.raises(LMRotateError) as caught:
        await c.chat("gpt-4o", HI, max_retries=0)
    assert caught.value.kind == "decode"
    upstream.set_default("sk-test-a", "reset")
    with pytest.raises(LMRotateError):
        async for _ in c.chat_stream("gpt-4o", HI, max_retries=0):
            pass


def test_a_config_model_refuses_unknown_fields_and_bad_values():
    from pydantic import ValidationError

    from llm_rotate import DefaultsConfig, KeyConfig

    with pytest.raises(ValidationError):
        DefaultsConfig(selection_strategy="fastest")
    with pytest.raises(ValidationError):
        KeyConfig(id="a", provider="openai", colour="blue")


def nested(depth):
    root = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


def test_input_nested_too_deep_is_a_type_error_not_a_crash(upstream):
    c = client(upstream)
    with pytest.raises(TypeError, match="nested more than 128 levels"):
        c.chat_sync("gpt-4o", HI, metadata=nested(200_000))
    deep_list = []
    for _ in range(200_000):
        deep_list = [deep_list]
    with pytest.raises(TypeError, match="nested more than 128 levels"):
        c.chat_sync("gpt-4o", HI, tools_extra=deep_list)
    with pytest.raises((TypeError, RecursionError)):
        c.chat_sync("gpt-4o", [{"role": "user", "content": [{"type": "text", "text": "x"}]}], response_format=nested(200_000))
    assert upstream.requests() == []
    # nesting within the limit reaches the vendor whole
    c.chat_sync("gpt-4o", HI, metadata=nested(100))
    sent = upstream.requests()[0]["body"]["metadata"]
    depth = 0
    while sent:
        sent, depth = sent["a"], depth + 1
    assert depth == 100
