//! The four strategies' orders, through the engine.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rotate_core::{ChatMessage, ChatOptions};
use rotate_testkit::harness::keys_config;
use rotate_testkit::Harness;
use serde_json::json;

async fn order(h: &Harness, n: usize) -> Vec<String> {
    for _ in 0..n {
        h.engine
            .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
            .await
            .expect("call succeeds");
    }
    h.provider.keys_called()
}

#[tokio::test]
async fn round_robin_follows_configuration_order() {
    let h = Harness::new(keys_config("p", &["k1", "k2", "k3"], "round_robin"), &["p"]);
    assert_eq!(order(&h, 5).await, ["k1", "k2", "k3", "k1", "k2"]);
}

#[tokio::test]
async fn priority_uses_the_lowest_number_and_rotates_ties() {
    let h = Harness::new(
        json!({"defaults": {"selection_strategy": "priority"}, "keys": [
            {"id": "backup", "provider": "p", "value": "x", "priority": 10},
            {"id": "main-1", "provider": "p", "value": "y", "priority": 1},
            {"id": "main-2", "provider": "p", "value": "z", "priority": 1}
        ]}),
        &["p"],
    );
    assert_eq!(order(&h, 4).await, ["main-1", "main-2", "main-1", "main-2"]);
}

#[tokio::test]
async fn weighted_is_smooth() {
    let h = Harness::new(
        json!({"defaults": {"selection_strategy": "weighted"}, "keys": [
            {"id": "a", "provider": "p", "value": "x", "weight": 5},
            {"id": "b", "provider": "p", "value": "y", "weight": 1},
            {"id": "c", "provider": "p", "value": "z", "weight": 1}
        ]}),
        &["p"],
    );
    assert_eq!(order(&h, 7).await, ["a", "a", "b", "a", "c", "a", "a"]);
}

#[tokio::test]
async fn health_aware_spreads_load_over_equal_keys() {
    let ids: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let h = Harness::new(keys_config("p", &refs, "health_aware"), &["p"]);
    let calls = order(&h, 800).await;
    for id in &ids {
        let n = calls.iter().filter(|k| *k == id).count();
        assert!(n <= 200, "{id} got {n} of 800 calls (fair share 100)");
        assert!(n > 0, "{id} got no call");
    }
}
