//! The config's rules, through parsing and validation as a user meets them.

use std::collections::HashMap;

use super::*;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<LMRotateConfig, ConfigurationError> {
    let config = LMRotateConfig::from_value(v)?;
    config.validate()?;
    Ok(config)
}

fn err(v: serde_json::Value) -> ConfigurationError {
    parse(v).expect_err("config should be refused")
}

#[test]
fn defaults_follow_the_seed() {
    let c = parse(json!({})).unwrap();
    assert_eq!(c.defaults.selection_strategy, Strategy::HealthAware);
    assert_eq!(c.defaults.max_retries, 3);
    assert_eq!(c.defaults.cooldown_seconds, 60);
    assert_eq!(c.defaults.quarantine_seconds, 300);
    assert_eq!(c.defaults.max_consecutive_failures, 5);
    assert_eq!(c.state_store.backend, StoreBackend::Memory);
    assert_eq!(c.state_store.redis_url, "redis://localhost:6379/0");
    assert_eq!(c.state_store.redis_namespace, "llmrotate");
    let k: KeyConfig =
        serde_json::from_value(json!({"id":"a","provider":"openai","value":"x"})).unwrap();
    assert_eq!((k.weight, k.priority, k.enabled), (1, 0, true));
}

#[test]
fn unknown_fields_name_the_nearest_valid_one() {
    let e = err(json!({"defaults": {"cooldown_secs": 5}}));
    assert_eq!(e.path(), "defaults.cooldown_secs");
    assert!(e.message().contains("unknown field `cooldown_secs`"), "{e}");
    assert!(
        e.message().contains("did you mean `cooldown_seconds`?"),
        "{e}"
    );
    let e = err(json!({"keyz": []}));
    assert!(e.message().contains("did you mean `keys`?"), "{e}");
}

#[test]
fn unknown_strategy_and_backend_are_refused_with_paths() {
    let e = err(json!({"defaults": {"selection_strategy": "fastest"}}));
    assert_eq!(e.path(), "defaults.selection_strategy");
    assert!(e.message().contains("unknown variant `fastest`"), "{e}");
    let e = err(json!({"state_store": {"backend": "redls"}}));
    assert_eq!(e.path(), "state_store.backend");
    assert!(e.message().contains("did you mean `redis`?"), "{e}");
}

#[test]
fn duplicate_key_ids_are_refused() {
    let e = err(json!({"keys": [
        {"id": "a", "provider": "openai", "value": "x"},
        {"id": "a", "provider": "openai", "value": "y"}
    ]}));
    assert_eq!(e.path(), "keys[1].id");
    assert!(e.message().contains("duplicate key id `a`"));
}

#[test]
fn unknown_provider_is_refused_with_a_hint() {
    let e = err(json!({"keys": [{"id": "a", "provider": "opneai", "value": "x"}]}));
    assert_eq!(e.path(), "keys[0].provider");
    assert!(e.message().contains("did you mean `openai`?"), "{e}");
}

#[test]
fn value_and_env_are_exclusive_and_required() {
    let e = err(json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "env": "Y"}]}));
    assert_eq!(e.path(), "keys[0]");
    assert!(e.message().contains("not both"));
    let e = err(json!({"keys": [{"id": "a", "provider": "openai"}]}));
    assert_eq!(e.path(), "keys[0]");
    assert!(e.message().contains("one of `value`, `env`"));
    let e = err(
        json!({"keys": [{"id": "v", "provider": "vertex", "metadata": {"credentials_file": "/nonexistent/sa.json"}}]}),
    );
    assert_eq!(e.path(), "keys[0].metadata.credentials_file");
    assert!(e.message().contains("/nonexistent/sa.json"), "{e}");
}

#[test]
fn the_gateway_section_is_kept_for_the_binary_and_never_shown() {
    let config =
        parse(json!({"gateway": {"tokens": ["gw-secret-token-1"], "anything": 1}})).unwrap();
    let section = config.gateway.as_ref().unwrap().value();
    assert_eq!(section["tokens"][0], "gw-secret-token-1");
    assert!(!format!("{config:?}").contains("gw-secret-token-1"));
    let written = serde_json::to_string(&config).unwrap();
    assert!(!written.contains("gw-secret-token-1"), "{written}");
}

#[test]
fn missing_env_var_is_named() {
    let e = err(
        json!({"keys": [{"id": "a", "provider": "openai", "env": "LLM_ROTATE_UNIT_TEST_UNSET_VAR"}]}),
    );
    assert_eq!(e.path(), "keys[0].env");
    assert!(e.message().contains("LLM_ROTATE_UNIT_TEST_UNSET_VAR"));
}

#[test]
fn all_zero_weights_under_weighted_are_refused() {
    let e = err(
        json!({"defaults": {"selection_strategy": "weighted"}, "keys": [
            {"id": "a", "provider": "openai", "value": "x", "weight": 0},
            {"id": "b", "provider": "openai", "value": "y", "weight": 0}
        ]}),
    );
    assert_eq!(e.path(), "keys[0].weight");
    let ok = parse(
        json!({"defaults": {"selection_strategy": "weighted"}, "keys": [
            {"id": "a", "provider": "openai", "value": "x", "weight": 0},
            {"id": "b", "provider": "openai", "value": "y", "weight": 2}
        ]}),
    );
    assert!(ok.is_ok());
    let other_strategy =
        parse(json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "weight": 0}]}));
    assert!(other_strategy.is_ok());
}

#[test]
fn fallback_entries_must_name_known_providers() {
    let e = err(
        json!({"fallback_chains": {"smart": [{"provider": "openai"}, {"provider": "antropic", "upstream": "claude-x"}]}}),
    );
    assert_eq!(e.path(), "fallback_chains.smart[1].provider");
    assert!(e.message().contains("did you mean `anthropic`?"));
    let e = err(json!({"fallback_chains": {"smart": []}}));
    assert_eq!(e.path(), "fallback_chains.smart");
}

#[test]
fn zero_max_consecutive_failures_is_refused() {
    let e = err(json!({"defaults": {"max_consecutive_failures": 0}}));
    assert_eq!(e.path(), "defaults.max_consecutive_failures");
    let e = err(json!({"providers": {"openai": {"max_consecutive_failures": 0}}}));
    assert_eq!(e.path(), "providers.openai.max_consecutive_failures");
}

#[test]
fn malformed_base_urls_are_refused() {
    for bad in [
        "ftp://x",
        "localhost:8080",
        "http://",
        "http://host:99999/v1",
        "http://a b",
    ] {
        let e = err(json!({"providers": {"openai": {"base_url": bad}}}));
        assert_eq!(e.path(), "providers.openai.base_url", "{bad}");
    }
    let e =
        err(json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "base_url": "nope"}]}));
    assert_eq!(e.path(), "keys[0].base_url");
    for good in [
        "http://127.0.0.1:8080/v1",
        "https://api.openai.com/v1",
        "https://{location}-aiplatform.googleapis.com/v1",
    ] {
        assert!(check_base_url(good).is_ok(), "{good}");
    }
}

#[test]
fn vertex_keys_need_a_project() {
    let e = err(json!({"keys": [{"id": "v", "provider": "vertex", "value": "AIza-not-json"}]}));
    assert_eq!(e.path(), "keys[0].metadata.project_id");
    assert!(parse(json!({"keys": [{"id": "v", "provider": "vertex", "value": "x", "metadata": {"project_id": "p"}}]})).is_ok());
    assert!(parse(
        json!({"keys": [{"id": "v", "provider": "vertex", "value": "{\"project_id\":\"p\"}"}]})
    )
    .is_ok());
    assert!(parse(json!({"keys": [{"id": "v", "provider": "vertex", "value": "x", "metadata": {"mode": "express"}}]})).is_ok());
}

#[test]
fn cloud_credentials_are_checked_at_load() {
    let bedrock = |value: &str, metadata: serde_json::Value| json!({"keys": [{"id": "b", "provider": "bedrock", "value": value, "metadata": metadata}]});
    assert!(parse(bedrock("ABSK-api-key", json!({"region": "eu-west-1"}))).is_ok());
    assert!(parse(bedrock(
        r#"{"access_key_id": "AKIA1", "secret_access_key": "s"}"#,
        json!({})
    ))
    .is_ok());
    let e = err(bedrock(r#"{"access_key_id": "AKIA1"}"#, json!({})));
    assert_eq!(e.path(), "keys[0].value");
    assert!(e.to_string().contains("`secret_access_key`"), "{e}");
    assert!(
        !e.to_string().contains("AKIA1"),
        "the value is not shown: {e}"
    );
    let e = err(bedrock("ABSK", json!({"region": "us-east-1.evil.example"})));
    assert_eq!(e.path(), "keys[0].metadata.region");

    let azure = |value: &str, auth: &str| json!({"keys": [{"id": "a", "provider": "azure_openai", "value": value, "base_url": "https://r.openai.azure.com/openai/v1", "metadata": {"auth": auth}}]});
    assert!(parse(azure("eyJ-token", "entra")).is_ok());
    assert!(parse(azure(
        r#"{"tenant_id": "t", "client_id": "c", "client_secret": "s"}"#,
        "entra"
    ))
    .is_ok());
    let e = err(azure(
        r#"{"tenant_id": "t", "client_secret": "s"}"#,
        "entra",
    ));
    assert_eq!(e.path(), "keys[0].value");
    assert!(e.to_string().contains("`client_id`"), "{e}");
    let e = err(azure("k", "kerberos"));
    assert_eq!(e.path(), "keys[0].metadata.auth");
}

#[test]
fn custom_providers_need_an_api() {
    let e = err(json!({"providers": {"local": {"base_url": "http://127.0.0.1:1/v1"}}}));
    assert_eq!(e.path(), "providers.local.api");
    assert!(parse(
        json!({"providers": {"local": {"api": "openai", "base_url": "http://127.0.0.1:1/v1"}},
        "keys": [{"id": "l", "provider": "local", "value": "x"}]})
    )
    .is_ok());
}

#[test]
fn wrong_types_never_echo_string_values() {
    let e = err(
        json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "weight": "sk-secret-value-123456"}]}),
    );
    assert_eq!(e.path(), "keys[0].weight");
    assert!(!e.to_string().contains("sk-secret"), "{e}");
}

#[test]
fn use_keys_filters_in_config_order_and_names_unknown_ids() {
    let mut c = parse(json!({"keys": [
        {"id": "a", "provider": "openai", "value": "x"},
        {"id": "b", "provider": "openai", "value": "y"},
        {"id": "c", "provider": "openai", "value": "z"}
    ]}))
    .unwrap();
    c.retain_keys(&["c", "a"]).unwrap();
    assert_eq!(
        c.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    let e = c.retain_keys(&["a", "nope"]).unwrap_err();
    assert_eq!(e.path(), "use_keys[1]");
}

#[test]
fn overrides_apply() {
    let mut c = parse(json!({"keys": [{"id": "a", "provider": "openai", "value": "x"}]})).unwrap();
    let overrides = Overrides::default()
        .strategy(Strategy::Priority)
        .priorities(HashMap::from([("a".to_owned(), 7)]))
        .fallback_chains(HashMap::from([(
            "m".to_owned(),
            vec![FallbackEntry::new("openai", Some("gpt-x"))],
        )]));
    c.apply_overrides(&overrides).unwrap();
    assert_eq!(c.defaults.selection_strategy, Strategy::Priority);
    assert_eq!(c.keys[0].priority, 7);
    assert_eq!(c.fallback_chains["m"][0].upstream.as_deref(), Some("gpt-x"));
    let bad = Overrides::default().priorities(HashMap::from([("zz".to_owned(), 1)]));
    assert_eq!(c.apply_overrides(&bad).unwrap_err().path(), "priorities.zz");
}

#[test]
fn user_providers_merge_over_builtins() {
    let c = parse(
        json!({"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1", "max_retries": 1}}}),
    )
    .unwrap();
    let p = c.provider("openai").unwrap();
    assert_eq!(p.api, Some(WireApi::Openai));
    assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
    assert_eq!(p.max_retries, Some(1));
    let groq = c.provider("groq").unwrap();
    assert_eq!(
        groq.base_url.as_deref(),
        Some("https://api.groq.com/openai/v1")
    );
}

#[test]
fn debug_never_shows_secrets() {
    let c = parse(json!({
        "providers": {"local": {"api": "openai", "base_url": "http://127.0.0.1:1/v1", "headers": {"X-Token": "hdr-secret"}}},
        "keys": [{"id": "a", "provider": "local", "value": "sk-very-secret-value"}],
        "state_store": {"redis_url": "redis://user:redis-pass@host:6379/0"}
    })).unwrap();
    let shown = format!("{c:?}");
    for secret in ["sk-very-secret-value", "hdr-secret", "redis-pass"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("sk-very-secret-value"));
}

#[test]
fn every_password_of_a_node_list_is_masked() {
    let shown = super::redact_url_password("redis://:one@a:7000,redis://user:two@b:7001/0");
    assert_eq!(shown, "redis://:****@a:7000,redis://user:****@b:7001/0");
}

#[test]
fn a_vertex_key_defaults_its_quota_group_to_its_project() {
    let mut key = KeyConfig::new("v", "vertex", "x");
    key.metadata.insert("project_id".into(), "proj-1".into());
    assert_eq!(key.effective_quota_group(true), Some("proj-1"));
    assert_eq!(key.effective_quota_group(false), None);
    key.quota_group = Some("org".into());
    assert_eq!(key.effective_quota_group(true), Some("org"));
}

#[test]
fn the_thinking_ahead_settings_refuse_bad_values_by_name() {
    for (field, value) in [
        ("slow_start_seconds", json!(-5)),
        ("max_wait_seconds", json!("soon")),
        ("max_waiters", json!(-1)),
        ("dead_key_after_failed_probes", json!(1.5)),
    ] {
        let e = LMRotateConfig::from_value(json!({"defaults": {field: value}})).unwrap_err();
        assert_eq!(e.path(), format!("defaults.{field}"), "{e}");
    }
}
