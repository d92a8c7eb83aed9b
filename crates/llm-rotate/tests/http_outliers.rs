//! Transient faults quarantine outliers only: failures every key shares quarantine no
//! key; a dead key among healthy ones is quarantined as before; no more than the
//! configured share of keys rests for transient faults; a provider failing on every key
//! hands over to the next plan entry at once; and with no eligible key left, keys resting
//! for transient faults are called again (never keys resting for their own fault).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use llm_rotate::{
    ChatMessage, ChatOptions, KeyState, LMRotate, LMRotateConfig, LMRotateError, ManualClock,
};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

fn client(config: serde_json::Value) -> LMRotate {
    LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(Arc::new(ManualClock::new(1_767_225_600_000)))
        .build()
        .unwrap()
}

fn defaults() -> serde_json::Value {
    json!({"selection_strategy": "round_robin", "max_consecutive_failures": 3, "quarantine_seconds": 60, "max_retries": 3})
}

fn hi() -> [ChatMessage; 1] {
    [ChatMessage::user("hi")]
}

async fn states(client: &LMRotate) -> Vec<(String, KeyState, u32)> {
    client
        .health()
        .await
        .keys
        .into_iter()
        .map(|k| (k.key_id, k.state, k.consecutive_failures))
        .collect()
}

#[tokio::test]
async fn failures_every_key_shares_quarantine_no_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let ids = ["a", "b", "c", "d"];
    let keys: Vec<(&str, &str)> = ids.iter().map(|id| (*id, "openai")).collect();
    let client = client(upstream.config(&keys, defaults()));
    for id in ids {
        upstream.script(
            &format!("sk-test-{id}"),
            vec![Behavior::ServerError(503); 3],
        );
    }
    // three calls, each failing once on every key: three failures in a row for each
    for _ in 0..3 {
        let error = client
            .chat("gpt-4o", &hi(), ChatOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(error, LMRotateError::Exhausted { .. }), "{error}");
    }
    for (id, state, failures) in states(&client).await {
        assert_eq!(state, KeyState::Healthy, "key {id} is no outlier");
        assert_eq!(failures, 3, "key {id}'s failures are still counted");
    }
    // and the next call is served
    assert!(client
        .chat("gpt-4o", &hi(), ChatOptions::default())
        .await
        .is_ok());
}

#[tokio::test]
async fn a_dead_key_among_healthy_ones_is_quarantined_after_the_limit() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(upstream.config(
        &[("a", "openai"), ("b", "openai"), ("c", "openai")],
        defaults(),
    ));
    upstream.set_default("sk-test-a", Behavior::ServerError(500));
    for _ in 0..9 {
        client
            .chat("gpt-4o", &hi(), ChatOptions::default())
            .await
            .unwrap();
    }
    let report = states(&client).await;
    assert_eq!(report[0], ("a".into(), KeyState::Quarantined, 3));
    assert_eq!(report[1].1, KeyState::Healthy);
    assert_eq!(
        upstream.ids_called().iter().filter(|k| *k == "a").count(),
        3
    );
}

#[tokio::test]
async fn no_more_than_the_share_rests_for_transient_faults() {
    let upstream = FakeUpstream::start().await.unwrap();
    let ids = ["a", "b", "c", "d", "e", "f"];
    let keys: Vec<(&str, &str)> = ids.iter().map(|id| (*id, "openai")).collect();
    let mut defaults = defaults();
    defaults["max_transient_ejection"] = json!(0.34);
    let client = client(upstream.config(&keys, defaults));
    for id in ["a", "b", "c"] {
        upstream.set_default(&format!("sk-test-{id}"), Behavior::ServerError(500));
    }
    for _ in 0..40 {
        client
            .chat("gpt-4o", &hi(), ChatOptions::default())
            .await
            .unwrap();
    }
    let report = states(&client).await;
    let resting = report
        .iter()
        .filter(|(_, state, _)| *state == KeyState::Quarantined)
        .count();
    assert_eq!(resting, 2, "34 % of six keys is two: {report:?}");
    for (id, state, _) in &report[3..] {
        assert_eq!(*state, KeyState::Healthy, "healthy key {id}");
    }
}

#[tokio::test]
async fn a_provider_failing_on_every_key_hands_over_at_once_and_blames_none() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(
        &[
            ("o1", "openai"),
            ("o2", "openai"),
            ("o3", "openai"),
            ("an", "anthropic"),
        ],
        defaults(),
    );
    config["fallback_chains"] = json!({"smart": [
        {"provider": "openai", "upstream": "gpt-4o"},
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
    ]});
    let client = client(config);
    for id in ["o1", "o2", "o3"] {
        upstream.set_default(&format!("sk-test-{id}"), Behavior::ServerError(503));
    }
    let first = client
        .chat("smart", &hi(), ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(first.provider, "anthropic");
    assert_eq!(
        upstream.ids_called(),
        ["o1", "o2", "o3", "an"],
        "until every key has failed, the provider may still serve"
    );
    upstream.clear_requests();
    for _ in 0..10 {
        let reply = client
            .chat("smart", &hi(), ChatOptions::default())
            .await
            .unwrap();
        assert_eq!(reply.provider, "anthropic");
    }
    let calls = upstream.ids_called();
    assert_eq!(
        calls.iter().filter(|k| k.starts_with('o')).count(),
        10,
        "one attempt per call on the failing provider: {calls:?}"
    );
    for (id, state, _) in &states(&client).await[..3] {
        assert_eq!(
            *state,
            KeyState::Healthy,
            "key {id} of the outage is not blamed"
        );
    }
}

#[tokio::test]
async fn with_no_eligible_key_left_a_key_resting_for_transient_faults_serves() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(upstream.config(&[("a", "openai"), ("b", "openai")], defaults()));
    upstream.script("sk-test-a", vec![Behavior::ServerError(500); 3]);
    for _ in 0..5 {
        client
            .chat("gpt-4o", &hi(), ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(states(&client).await[0].1, KeyState::Quarantined);
    // b is rate limited: nothing is eligible, so the least bad resting key is called
    upstream.script("sk-test-b", [Behavior::RateLimited(None)]);
    upstream.clear_requests();
    let reply = client
        .chat("gpt-4o", &hi(), ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "a");
    assert_eq!(upstream.ids_called(), ["b", "a"]);
    let report = states(&client).await;
    assert_eq!(
        report[0].1,
        KeyState::Quarantined,
        "the quarantine runs its course"
    );
    assert_eq!(report[1].1, KeyState::CoolingDown);
    // b still cools and a rests: the panic threshold calls a again, never b
    upstream.clear_requests();
    client
        .chat("gpt-4o", &hi(), ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(upstream.ids_called(), ["a"]);
}

#[tokio::test]
async fn keys_resting_for_their_own_fault_are_never_called_early() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(upstream.config(&[("a", "openai"), ("b", "openai")], defaults()));
    upstream.script("sk-test-a", [Behavior::Unauthorized]);
    upstream.script("sk-test-b", [Behavior::QuotaExhausted]);
    let error = client
        .chat("gpt-4o", &hi(), ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, LMRotateError::Exhausted { .. }), "{error}");
    upstream.clear_requests();
    let error = client
        .chat("gpt-4o", &hi(), ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, LMRotateError::NoAvailableKey(_)), "{error}");
    assert!(upstream.ids_called().is_empty());
}
