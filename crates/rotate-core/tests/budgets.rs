//! Local budgets (rpm, tpm) and vendor headroom hold keys back until their window resets.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::provider::Headroom;
use rotate_core::{ChatMessage, ChatOptions, KeyState, LMRotateError};
use rotate_testkit::harness::START_MS;
use rotate_testkit::{Harness, Step};
use serde_json::json;

#[tokio::test]
async fn rpm_budget_moves_traffic_until_the_minute_ends() {
    let h = Harness::new(
        json!({"defaults": {"selection_strategy": "priority"}, "keys": [
            {"id": "a", "provider": "p", "value": "x", "rpm": 2, "priority": 0},
            {"id": "b", "provider": "p", "value": "y", "priority": 1}
        ]}),
        &["p"],
    );
    let msgs = [ChatMessage::user("hi")];
    for _ in 0..4 {
        h.engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(h.provider.keys_called(), ["a", "a", "b", "b"]);
    let to_next_minute = 60_000 - (START_MS % 60_000);
    h.advance(Duration::from_millis(to_next_minute));
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(
        h.provider.keys_called().last().map(String::as_str),
        Some("a")
    );
}

#[tokio::test]
async fn tpm_budget_counts_tokens() {
    let h = Harness::new(
        json!({"keys": [{"id": "a", "provider": "p", "value": "x", "tpm": 30}]}),
        &["p"],
    );
    let msgs = [ChatMessage::user("hi")];
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    let err = h
        .engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LMRotateError::NoAvailableKey(ref e) if e.retry_in.is_some()),
        "{err:?}"
    );
}

#[tokio::test]
async fn zero_remaining_headroom_cools_the_key_without_a_429() {
    let h = Harness::new(
        json!({"defaults": {"selection_strategy": "round_robin"}, "keys": [
            {"id": "a", "provider": "p", "value": "x"},
            {"id": "b", "provider": "p", "value": "y"}
        ]}),
        &["p"],
    );
    h.provider.push(
        "a",
        Step::OkWithHeadroom(Headroom {
            remaining_requests: Some(0),
            limit_requests: Some(100),
            reset_requests: Some(Duration::from_secs(7)),
            ..Headroom::default()
        }),
    );
    let msgs = [ChatMessage::user("hi")];
    assert_eq!(
        h.engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap()
            .key_id,
        "a"
    );
    assert_eq!(h.state("a").state, KeyState::CoolingDown);
    assert_eq!(h.state("a").until_ms, h.now_ms() + 7_000);
    for _ in 0..3 {
        assert_eq!(
            h.engine
                .chat("p/m", &msgs, &ChatOptions::default())
                .await
                .unwrap()
                .key_id,
            "b"
        );
    }
}
