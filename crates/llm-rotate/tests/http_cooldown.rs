//! 429 + Retry-After cools the key; the call succeeds on another key; the request log
//! proves the cooled key gets no request until its time (driven by a manual clock).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use llm_rotate::{
    ChatMessage, ChatOptions, KeyState, LMRotate, LMRotateConfig, LMRotateError, ManualClock,
};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

fn client(upstream: &FakeUpstream, keys: &[(&str, &str)], clock: Arc<ManualClock>) -> LMRotate {
    let config = upstream.config(keys, json!({"selection_strategy": "round_robin"}));
    LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(clock)
        .build()
        .unwrap()
}

/// A fake upstream, a manual clock, and a client with keys `a` and `b` of `openai`.
async fn two_keys() -> (FakeUpstream, Arc<ManualClock>, LMRotate) {
    let upstream = FakeUpstream::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let client = client(
        &upstream,
        &[("a", "openai"), ("b", "openai")],
        clock.clone(),
    );
    (upstream, clock, client)
}

#[tokio::test]
async fn a_rate_limited_key_rests_exactly_until_its_retry_after() {
    let (upstream, clock, client) = two_keys().await;
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(30)))],
    );
    let hi = [ChatMessage::user("hi")];
    let reply = client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "b", "the call succeeds on another key");
    let report = client.health().await;
    assert_eq!(report.keys[0].state, KeyState::CoolingDown);
    assert_eq!(report.keys[0].available_in_ms, Some(30_000));

    for _ in 0..10 {
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
    }
    clock.advance(Duration::from_millis(29_999));
    client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap();
    let calls = upstream.ids_called();
    assert_eq!(
        calls.iter().filter(|k| *k == "a").count(),
        1,
        "no request to a while it cools: {calls:?}"
    );

    clock.advance(Duration::from_millis(1));
    client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap();
    client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(
        upstream.ids_called().iter().filter(|k| *k == "a").count(),
        2,
        "a is called again after 30 s"
    );
}

#[tokio::test]
async fn all_keys_cooling_gives_no_available_key_with_retry_in() {
    let (upstream, clock, client) = two_keys().await;
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(8)))],
    );
    upstream.script(
        "sk-test-b",
        [Behavior::RateLimited(Some(Duration::from_secs(4)))],
    );
    let hi = [ChatMessage::user("hi")];
    let err = client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, LMRotateError::Exhausted { .. }), "{err}");
    let err = client
        .chat("gpt-4o", &hi, ChatOptions::default())
        .await
        .unwrap_err();
    let LMRotateError::NoAvailableKey(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.retry_in, Some(Duration::from_secs(4)));
    assert_eq!(upstream.requests().len(), 2);
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap()
            .key_id,
        "b"
    );
}

#[tokio::test]
async fn zero_headroom_cools_the_key_before_any_429() {
    let (upstream, _clock, client) = two_keys().await;
    upstream.script(
        "sk-test-a",
        [Behavior::HeadroomExhausted(Duration::from_secs(20))],
    );
    let hi = [ChatMessage::user("hi")];
    for _ in 0..5 {
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(upstream.ids_called(), ["a", "b", "b", "b", "b"]);
}
