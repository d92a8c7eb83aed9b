//! All keys resting: `NoAvailableKey` with the soonest `retry_in`, then recovery.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, LMRotateError};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

#[tokio::test]
async fn all_keys_cooling_reports_the_soonest_retry() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(20)));
    h.provider
        .push("b", Step::rate_limited(Duration::from_secs(5)));
    let msgs = [ChatMessage::user("hi")];
    let err = h
        .engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(attempts.len(), 2);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));

    h.advance(Duration::from_secs(2));
    let err = h
        .engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap_err();
    let LMRotateError::NoAvailableKey(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.retry_in, Some(Duration::from_secs(3)));
    assert_eq!(e.providers, ["p"]);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(h.provider.calls().len(), 2, "no call while every key rests");

    h.advance(Duration::from_secs(3));
    let reply = h
        .engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "b");
}

#[tokio::test]
async fn a_disabled_key_is_never_called() {
    let mut config = keys_config("p", &["a", "b"], "round_robin");
    config["keys"][0]["enabled"] = serde_json::json!(false);
    let h = Harness::new(config, &["p"]);
    for _ in 0..3 {
        h.engine
            .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(h.provider.keys_called(), ["b", "b", "b"]);
    let report = h.engine.health().await;
    assert_eq!(report.keys[0].state, rotate_core::KeyState::Disabled);
    assert_eq!(report.providers[0].available_keys, 1);
}
