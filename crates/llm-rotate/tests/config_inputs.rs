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
