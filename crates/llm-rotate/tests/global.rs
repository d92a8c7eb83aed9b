//! The process-wide instance: `lm` before `configure`, configure rules, configure twice.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{configure, lm, try_lm, ConfigureOptions, LMRotateConfig, Strategy};
use serde_json::json;

#[test]
fn configure_once_then_lm_everywhere() {
    assert!(try_lm().is_err());
    let panicked = std::panic::catch_unwind(|| {
        let _ = lm();
    });
    assert!(
        panicked.is_err(),
        "lm() before configure panics with a clear message"
    );

    let registry = json!({"keys": [
        {"id": "a", "provider": "openai", "value": "k1"},
        {"id": "b", "provider": "openai", "value": "k2"}
    ]});
    let both = ConfigureOptions::default()
        .registry(registry.clone())
        .config(LMRotateConfig::default());
    assert!(configure(both).unwrap_err().message().contains("not both"));
    assert!(configure(ConfigureOptions::default()).is_err());
    assert_eq!(
        configure(ConfigureOptions::default().registry(registry.clone()))
            .unwrap_err()
            .path(),
        "use_keys"
    );
    assert!(try_lm().is_err(), "failed configures leave nothing behind");

    configure(
        ConfigureOptions::default()
            .registry(registry.clone())
            .use_keys(["b"])
            .strategy(Strategy::RoundRobin),
    )
    .unwrap();
    assert_eq!(lm().config().keys.len(), 1);
    assert_eq!(
        lm().config().defaults.selection_strategy,
        Strategy::RoundRobin
    );

    let again = configure(
        ConfigureOptions::default()
            .registry(registry)
            .use_keys(["a", "b"]),
    );
    assert!(again.unwrap_err().message().contains("already"));
    assert_eq!(lm().config().keys[0].id, "b", "the first instance stays");
    assert!(!llm_rotate::VERSION.is_empty());
}
