//! Quarantine after the failure limit and the probe after it; 401 quarantines at once;
//! 400 fails once with no retry; a connection reset is a network failure; the fake's
//! real rate limit and fault mix behave as documented.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use llm_rotate::{
    ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotate, LMRotateConfig, LMRotateError,
    ManualClock,
};
use rotate_testkit::upstream::fail_then_ok;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

fn client(upstream: &FakeUpstream, clock: Arc<ManualClock>) -> LMRotate {
    let config = upstream.config(
        &[("a", "openai"), ("b", "openai")],
        json!({"selection_strategy": "round_robin", "max_consecutive_failures": 3, "quarantine_seconds": 60}),
    );
    LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(clock)
        .build()
        .unwrap()
}

#[tokio::test]
async fn failures_quarantine_and_a_probe_brings_the_key_back() {
    let upstream = FakeUpstream::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let client = client(&upstream, clock.clone());
    upstream.script("sk-test-a", fail_then_ok(3, Behavior::ServerError(502)));
    let hi = [ChatMessage::user("hi")];
    for _ in 0..6 {
        assert_eq!(
            client
                .chat("gpt-4o", &hi, ChatOptions::default())
                .await
                .unwrap()
                .key_id,
            "b"
        );
    }
    let report = client.health().await;
    assert_eq!(report.keys[0].state, KeyState::Quarantined);
    assert_eq!(report.keys[0].consecutive_failures, 3);
    assert_eq!(report.keys[0].failures, 3);
    assert!(report.keys[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("server_error 502"));
    assert_eq!(
        upstream.ids_called().iter().filter(|k| *k == "a").count(),
        3
    );

    clock.advance(Duration::from_secs(60));
    let mut served_by_a = 0;
    for _ in 0..4 {
        if client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap()
            .key_id
            == "a"
        {
            served_by_a += 1;
        }
    }
    assert!(served_by_a >= 1, "the probe succeeded and a serves again");
    assert_eq!(client.health().await.keys[0].state, KeyState::Healthy);
}

#[tokio::test]
async fn unauthorized_quarantines_at_once() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, Arc::new(ManualClock::new(1_767_225_600_000)));
    upstream.script("sk-test-a", [Behavior::Unauthorized]);
    let reply = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "b");
    let report = client.health().await;
    assert_eq!(report.keys[0].state, KeyState::Quarantined);
    assert!(report.keys[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("auth 401"));
}

#[tokio::test]
async fn a_bad_request_fails_once_without_retry() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, Arc::new(ManualClock::new(1_767_225_600_000)));
    upstream.script("sk-test-a", [Behavior::BadRequest]);
    let err = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, LMRotateError::Provider(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.status(), Some(400));
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(client.health().await.keys[0].state, KeyState::Healthy);
    upstream.script("sk-test-b", [Behavior::ContextLength]);
    let err = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLength);
    assert_eq!(upstream.requests().len(), 2);
}

#[tokio::test]
async fn a_connection_reset_is_a_network_failure_retried_on_another_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, Arc::new(ManualClock::new(1_767_225_600_000)));
    upstream.script("sk-test-a", [Behavior::Reset]);
    let reply = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "b");
    let report = client.health().await;
    assert!(
        report.keys[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("network"),
        "{:?}",
        report.keys[0].last_error
    );
    assert_eq!(report.keys[0].failures_by_kind.get("network"), Some(&1));
}

#[tokio::test]
async fn a_real_rate_limit_holds_for_the_time_it_named_and_a_mix_draws_by_weight() {
    let upstream = FakeUpstream::start().await.unwrap();
    let hi = [ChatMessage::user("hi")];
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimitedFor(Duration::from_secs(30))],
    );
    upstream.set_default(
        "sk-test-b",
        Behavior::Mix(Arc::from(vec![
            (1, Behavior::ServerError(502)),
            (0, Behavior::Ok),
        ])),
    );
    let config = upstream.config(
        &[("a", "openai"), ("b", "openai")],
        json!({"selection_strategy": "round_robin", "max_retries": 0}),
    );
    let raw = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    // a: 429, then b: 502 (the mix never draws a weight of 0), and the budget is spent
    let error = raw
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = error else {
        panic!("{error}")
    };
    let kinds: Vec<ErrorKind> = attempts.iter().map(|a| a.error.kind).collect();
    assert_eq!(kinds, [ErrorKind::RateLimited, ErrorKind::ServerError]);
    // the limit holds at the upstream: a second client's call to `a` is refused too
    let config = upstream.config(&[("a", "openai")], json!({}));
    let other = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    let error = other
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("rate_limited"), "{error}");
}
