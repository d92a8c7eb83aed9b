//! Quarantine after repeated failures, the probe after it, and operator disable.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotateError};
use rotate_testkit::{Harness, Step};
use serde_json::json;

fn config() -> serde_json::Value {
    json!({
        "defaults": {"selection_strategy": "round_robin", "max_consecutive_failures": 2, "quarantine_seconds": 100},
        "keys": [{"id": "a", "provider": "p", "value": "x"}, {"id": "b", "provider": "p", "value": "y"}]
    })
}

#[tokio::test]
async fn repeated_failures_quarantine_then_one_probe_decides() {
    let h = Harness::new(config(), &["p"]);
    let msgs = [ChatMessage::user("hi")];
    h.provider
        .set_default("a", Step::fail(ErrorKind::ServerError, 500));
    // a fails twice (each call then succeeds on b)
    for _ in 0..2 {
        let r = h
            .engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap();
        assert_eq!(r.key_id, "b");
    }
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    let report = h.engine.health().await;
    assert_eq!(report.keys[0].state, KeyState::Quarantined);
    assert_eq!(report.keys[0].available_in_ms, Some(100_000));
    assert_eq!(report.keys[0].consecutive_failures, 2);
    assert!(report.keys[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("server_error"));

    h.provider.clear_log();
    for _ in 0..4 {
        h.engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap();
    }
    assert!(
        !h.provider.keys_called().contains(&"a".to_owned()),
        "quarantined key is not called"
    );

    // the probe fails: quarantined again, for twice as long
    h.advance(Duration::from_secs(100));
    h.provider.clear_log();
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    h.engine
        .chat("p/m", &msgs, &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(
        h.provider
            .keys_called()
            .iter()
            .filter(|k| *k == "a")
            .count(),
        1,
        "one probe"
    );
    assert_eq!(h.state("a").until_ms, h.now_ms() + 200_000);

    // the next probe succeeds: healthy again
    h.advance(Duration::from_secs(200));
    h.provider.set_default("a", Step::Ok);
    let mut served_by_a = false;
    for _ in 0..2 {
        served_by_a |= h
            .engine
            .chat("p/m", &msgs, &ChatOptions::default())
            .await
            .unwrap()
            .key_id
            == "a";
    }
    assert!(served_by_a);
    assert_eq!(h.state("a").state, KeyState::Healthy);
    assert_eq!(h.state("a").consecutive_failures, 0);
}

/// Makes `a` answer 401 once, with one call (served by `b`).
async fn quarantine_a_by_auth(h: &Harness) {
    h.provider.push("a", Step::fail(ErrorKind::Auth, 401));
    let reply = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await;
    assert_eq!(reply.unwrap().key_id, "b");
}

#[tokio::test]
async fn auth_failure_quarantines_at_once() {
    let h = Harness::new(config(), &["p"]);
    quarantine_a_by_auth(&h).await;
    let s = h.state("a");
    assert_eq!(s.state, KeyState::Quarantined);
    assert_eq!(s.until_ms, h.now_ms() + 100_000);
}

#[tokio::test]
async fn an_operator_can_disable_and_enable_a_key() {
    let h = Harness::new(config(), &["p"]);
    h.engine.set_key_enabled("b", false).unwrap();
    h.engine.set_key_enabled("a", false).unwrap();
    let err = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LMRotateError::NoAvailableKey(ref e) if e.retry_in.is_none()),
        "{err:?}"
    );
    h.engine.set_key_enabled("a", true).unwrap();
    let r = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(r.key_id, "a");
    assert!(h.engine.set_key_enabled("zzz", true).is_err());
}

#[tokio::test]
async fn health_says_when_a_probe_is_in_flight() {
    let h = Harness::new(config(), &["p"]);
    quarantine_a_by_auth(&h).await;
    let health = |report: &rotate_core::HealthReport| {
        let a = report.keys.iter().find(|k| k.key_id == "a").unwrap();
        (a.state, a.probing, a.available_in_ms)
    };
    assert_eq!(
        health(&h.engine.health().await),
        (KeyState::Quarantined, false, Some(100_000))
    );
    h.advance(Duration::from_secs(100));
    h.engine.set_key_enabled("b", false).unwrap();
    let probe = h.engine.acquire("p", None).await.unwrap();
    assert_eq!(probe.key_id(), "a");
    assert_eq!(
        health(&h.engine.health().await),
        (KeyState::Quarantined, true, None),
        "the probe is in flight"
    );
    probe.report_success(None).await;
    assert_eq!(
        health(&h.engine.health().await),
        (KeyState::Healthy, false, None)
    );
}
