//! Reload: validated first, swapped atomically; surviving keys keep health and usage.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, KeyState, LMRotateConfig};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

#[tokio::test]
async fn surviving_keys_keep_state_and_removed_keys_are_never_called() {
    let h = Harness::new(keys_config("p", &["a", "b", "c"], "round_robin"), &["p"]);
    let msgs = [ChatMessage::user("hi")];
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(60)));
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    let before = h.engine.usage_summary().await;

    let next =
        LMRotateConfig::from_value(keys_config("p", &["a", "c", "d"], "round_robin")).unwrap();
    h.engine.reload(next).unwrap();
    let report = h.engine.health().await;
    let ids: Vec<&str> = report.keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, ["a", "c", "d"]);
    assert_eq!(
        report.keys[0].state,
        KeyState::CoolingDown,
        "a keeps its cooldown"
    );
    assert_eq!(
        report.keys[0].requests, before.by_key["a"].requests,
        "a keeps its usage"
    );

    h.provider.clear_log();
    for _ in 0..6 {
        h.engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap();
    }
    let called = h.provider.keys_called();
    assert!(
        !called.contains(&"b".to_owned()),
        "removed key b was called: {called:?}"
    );
    assert!(
        !called.contains(&"a".to_owned()),
        "cooling key a was called: {called:?}"
    );
    assert!(called.contains(&"d".to_owned()));
}

#[tokio::test]
async fn an_invalid_config_changes_nothing() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    let mut bad = keys_config("p", &["a", "a"], "round_robin");
    bad["keys"][1]["value"] = serde_json::json!("y");
    let err = h
        .engine
        .reload(LMRotateConfig::from_value(bad).unwrap())
        .unwrap_err();
    assert_eq!(err.path(), "keys[1].id");
    let r = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(r.key_id, "a");
}

#[tokio::test]
async fn a_closed_engine_refuses_calls() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    h.engine.close().await;
    let err = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rotate_core::ErrorKind::Closed);
}
