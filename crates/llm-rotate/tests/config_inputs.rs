//! The config loader on arbitrary input: random documents in each format and valid
//! configs with any value swapped for any JSON are loaded or refused with a
//! `ConfigurationError` (one line, never a secret), and never panic.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;

use llm_rotate::{parse_document, LMRotateConfig};
use proptest::prelude::*;
use rotate_testkit::arbitrary::any_json;
use serde_json::{json, Value};

const SECRET: &str = "sk-test-never-shown-123456";

fn valid() -> Value {
    json!({
        "defaults": {"selection_strategy": "weighted", "max_retries": 2, "cooldown_seconds": 5},
        "providers": {"local": {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "headers": {"x-org": "o"}}},
        "keys": [
            {"id": "a", "provider": "openai", "value": SECRET, "weight": 2, "models": ["gpt-4o"]},
            {"id": "b", "provider": "local", "value": SECRET, "metadata": {"region": "eu"}}
        ],
        "fallback_chains": {"smart": [{"provider": "openai", "upstream": "gpt-4o"}]},
        "state_store": {"backend": "memory", "redis_namespace": "ns"}
    })
}

const SLOTS: [&str; 16] = [
    "/defaults",
    "/defaults/selection_strategy",
    "/defaults/max_retries",
    "/defaults/cooldown_seconds",
    "/providers",
    "/providers/local",
    "/providers/local/api",
    "/providers/local/base_url",
    "/providers/local/headers",
    "/keys",
    "/keys/0",
    "/keys/0/id",
    "/keys/0/weight",
    "/keys/1/metadata",
    "/fallback_chains/smart",
    "/state_store/backend",
];

fn load(value: Value) {
    match LMRotateConfig::from_value(value).and_then(|c| c.validate().map(|()| c)) {
        Ok(config) => assert!(!format!("{config:?}").contains(SECRET)),
        Err(error) => {
            let shown = error.to_string();
            assert!(!shown.contains('\n'), "{shown}");
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_valid_config_with_any_value_swapped_loads_or_is_refused(slot in 0usize..SLOTS.len(), replacement in any_json()) {
        let mut config = valid();
        if let Some(target) = config.pointer_mut(SLOTS[slot]) {
            *target = replacement;
        }
        load(config);
    }

    #[test]
    fn arbitrary_documents_parse_or_are_refused(text in ".{0,200}", format in 0usize..3) {
        let name = ["c.json", "c.yaml", "c.toml"][format];
        if let Ok(document) = parse_document(Path::new(name), &text) {
            load(document);
        }
    }
}

#[test]
fn the_valid_config_is_valid() {
    let config = LMRotateConfig::from_value(valid()).unwrap();
    config.validate().unwrap();
}

/// Puts `value` at the JSON pointer `path`, making the objects on the way.
fn set(config: &mut Value, path: &str, value: Value) {
    let mut at = config;
    for part in path.trim_start_matches('/').split('/') {
        at = match part.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[part],
        };
    }
    *at = value;
}

/// Numeric settings a config can hold, by path.
const NUMBERS: [&str; 14] = [
    "/defaults/max_retries",
    "/defaults/cooldown_seconds",
    "/defaults/quarantine_seconds",
    "/defaults/max_consecutive_failures",
    "/defaults/request_timeout_seconds",
    "/defaults/stream_idle_timeout_seconds",
    "/providers/openai/timeout_seconds",
    "/providers/openai/max_retries",
    "/providers/openai/cooldown_seconds",
    "/providers/openai/default_max_tokens",
    "/keys/0/weight",
    "/keys/0/priority",
    "/keys/0/rpm",
    "/keys/0/tpm",
];

fn extreme() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(u32::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(-1)),
        Just(json!(1e300)),
        any::<u64>().prop_map(Value::from),
    ]
}

fn call_options() -> impl Strategy<Value = llm_rotate::ChatOptions> {
    let retries = prop_oneof![
        Just(None),
        Just(Some(0)),
        Just(Some(u32::MAX)),
        any::<u32>().prop_map(Some)
    ];
    let tokens = prop_oneof![Just(None), Just(Some(0)), Just(Some(u32::MAX))];
    let temperature = prop_oneof![
        Just(None),
        Just(Some(f32::NAN)),
        Just(Some(f32::INFINITY)),
        Just(Some(f32::MAX)),
        Just(Some(-1.0))
    ];
    (retries, tokens, temperature).prop_map(|(max_retries, max_tokens, temperature)| {
        llm_rotate::ChatOptions {
            max_retries,
            max_tokens,
            temperature,
            ..llm_rotate::ChatOptions::default()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Extreme values of every numeric setting and call option: a configuration error
    /// naming the field, or a client whose calls answer; never a panic.
    #[test]
    fn extreme_numbers_are_refused_or_served(slot in 0usize..NUMBERS.len(), value in extreme(), options in call_options()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let upstream = rotate_testkit::FakeUpstream::start().await.unwrap();
            let mut config = upstream.config(&[("a", "openai"), ("b", "openai")], json!({}));
            config["providers"]["openai"]["timeout_seconds"] = json!(30);
            set(&mut config, NUMBERS[slot], value.clone());
            let loaded = LMRotateConfig::from_value(config).and_then(|c| c.validate().map(|()| c));
            let config = match loaded {
                Ok(config) => config,
                Err(error) => {
                    let field = NUMBERS[slot].trim_start_matches('/').replace('/', ".");
                    let field = field.replace(".0.", "[0].");
                    assert_eq!(error.path(), field, "{value}: {error}");
                    return;
                }
            };
            let client = llm_rotate::LMRotate::new(config).unwrap();
            let reply = client.chat("gpt-4o", &[llm_rotate::ChatMessage::user("hi")], options).await;
            assert!(reply.is_ok() || reply.is_err());
            let _ = client.health().await;
        });
    }
}

#[test]
fn limits_name_their_fields() {
    let fields = [
        "defaults.cooldown_seconds",
        "defaults.quarantine_seconds",
        "defaults.stream_idle_timeout_seconds",
        "defaults.call_timeout_seconds",
        "defaults.max_retries",
        "keys[0].weight",
    ];
    for field in fields {
        let mut config = valid();
        let path = format!("/{}", field.replace("[0]", ".0").replace('.', "/"));
        set(&mut config, &path, json!(u64::MAX));
        let loaded = LMRotateConfig::from_value(config).and_then(|c| c.validate());
        assert_eq!(loaded.unwrap_err().path(), field);
    }
}

#[test]
fn a_key_id_of_the_wrong_type_is_reported_at_the_key() {
    let registry = json!({"keys": [{"id": {"x": 1}, "provider": "openai", "value": SECRET}]});
    let error = llm_rotate::configure_from_dict(registry, ["a"], llm_rotate::Overrides::default())
        .unwrap_err();
    assert_eq!(error.path(), "keys[0].id", "{error}");
}
