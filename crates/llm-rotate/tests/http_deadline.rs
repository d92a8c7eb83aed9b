//! A whole-call deadline: `ChatOptions::timeout`, else `defaults.call_timeout_seconds`,
//! bounds the call with its retries and fallback; past it the call fails with
//! `DeadlineExceeded`, its upstream request is cancelled and no key is blamed.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use llm_rotate::{ChatMessage, ChatOptions, ErrorKind, LMRotate, LMRotateConfig, LMRotateError};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

fn slow(by: Duration) -> Behavior {
    Behavior::Latency(by, Box::new(Behavior::Ok))
}

/// The deadline an error says passed, if it is `DeadlineExceeded`.
fn deadline_of(error: &LMRotateError) -> Option<Duration> {
    match error {
        LMRotateError::DeadlineExceeded { after } => Some(*after),
        _ => None,
    }
}

fn client(upstream: &FakeUpstream, defaults: serde_json::Value) -> LMRotate {
    let config = upstream.config(&[("a", "openai"), ("b", "openai")], defaults);
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[tokio::test]
async fn the_call_option_bounds_retries_and_blames_no_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        json!({"selection_strategy": "round_robin", "request_timeout_seconds": 30}),
    );
    // a fails fast (a retry), b is slow: the deadline covers both attempts
    upstream.script("sk-test-a", [Behavior::ServerError(500)]);
    upstream.set_default("sk-test-b", slow(Duration::from_secs(20)));
    let options = ChatOptions::default().timeout(Duration::from_millis(300));
    let error = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], options)
        .await
        .unwrap_err();
    assert_eq!(
        deadline_of(&error),
        Some(Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(
        upstream.ids_called(),
        ["a", "b"],
        "the retry ran inside the deadline"
    );
    let health = client.health().await;
    let b = health.keys.iter().find(|k| k.key_id == "b").unwrap();
    assert_eq!(
        (b.failures, b.consecutive_failures, b.in_flight),
        (0, 0, 0),
        "{b:?}"
    );
}

#[tokio::test]
async fn the_config_default_applies_and_the_option_overrides_it() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        json!({"call_timeout_seconds": 1, "request_timeout_seconds": 30}),
    );
    upstream.set_default("sk-test-a", slow(Duration::from_secs(20)));
    upstream.set_default("sk-test-b", slow(Duration::from_secs(20)));
    let error = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        deadline_of(&error),
        Some(Duration::from_secs(1)),
        "{error:?}"
    );

    upstream.set_default("sk-test-a", slow(Duration::from_millis(1200)));
    upstream.set_default("sk-test-b", slow(Duration::from_millis(1200)));
    let longer = ChatOptions::default().timeout(Duration::from_secs(10));
    let reply = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], longer)
        .await
        .unwrap();
    assert!(reply.content.starts_with("ok from"));
}

#[test]
fn a_zero_default_deadline_is_refused() {
    let error = LMRotateConfig::from_value(json!({"defaults": {"call_timeout_seconds": 0}}))
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(error.path(), "defaults.call_timeout_seconds");
}
