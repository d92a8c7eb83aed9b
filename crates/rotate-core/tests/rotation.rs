//! Rotation across keys: retry order, no key twice per call, budgets, caller's fault.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotateError};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

#[tokio::test]
async fn failures_rotate_in_order_until_a_key_serves() {
    let h = Harness::new(keys_config("p", &["a", "b", "c"], "round_robin"), &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(30)));
    h.provider
        .push("b", Step::fail(ErrorKind::ServerError, 500));
    let reply = h
        .engine
        .chat("p/m", &hi(), &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "c");
    assert_eq!(reply.content, "ok from c");
    assert_eq!(reply.provider, "p");
    assert_eq!(reply.model, "m");
    assert_eq!(h.provider.keys_called(), ["a", "b", "c"]);
    assert_eq!(h.state("a").state, KeyState::CoolingDown);
    assert_eq!(h.state("a").until_ms, h.now_ms() + 30_000);
    assert_eq!(h.state("b").consecutive_failures, 1);
}

#[tokio::test]
async fn no_key_is_tried_twice_in_one_call() {
    let h = Harness::new(keys_config("p", &["a", "b", "c"], "health_aware"), &["p"]);
    for k in ["a", "b", "c"] {
        h.provider
            .set_default(k, Step::fail(ErrorKind::ServerError, 503));
    }
    let err = h
        .engine
        .chat("p/m", &hi(), &ChatOptions::default().max_retries(50))
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = &err else {
        panic!("{err:?}")
    };
    let mut keys: Vec<&str> = attempts.iter().map(|a| a.key_id.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(h.provider.calls().len(), 3);
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.status(), Some(503));
}

#[tokio::test]
async fn transient_failures_spend_the_retry_budget() {
    let h = Harness::new(
        keys_config("p", &["a", "b", "c", "d"], "round_robin"),
        &["p"],
    );
    for k in ["a", "b", "c", "d"] {
        h.provider
            .set_default(k, Step::fail(ErrorKind::Timeout, 504));
    }
    let err = h
        .engine
        .chat("p/m", &hi(), &ChatOptions::default().max_retries(1))
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = err else {
        panic!()
    };
    assert_eq!(attempts.len(), 2, "1 + max_retries attempts");
    assert_eq!(h.provider.keys_called(), ["a", "b"]);
}

#[tokio::test]
async fn key_specific_failures_do_not_spend_the_budget() {
    let h = Harness::new(
        keys_config("p", &["a", "b", "c", "d", "e"], "round_robin"),
        &["p"],
    );
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(1)));
    h.provider.push("b", Step::fail(ErrorKind::Auth, 401));
    h.provider
        .push("c", Step::fail(ErrorKind::QuotaExhausted, 429));
    h.provider
        .push("d", Step::rate_limited(Duration::from_secs(1)));
    let reply = h
        .engine
        .chat("p/m", &hi(), &ChatOptions::default().max_retries(0))
        .await
        .unwrap();
    assert_eq!(reply.key_id, "e");
    assert_eq!(h.state("b").state, KeyState::Quarantined);
    assert_eq!(h.state("c").state, KeyState::Quarantined);
}

#[tokio::test]
async fn caller_faults_stop_at_once_without_penalty() {
    for (kind, status) in [
        (ErrorKind::InvalidRequest, 400),
        (ErrorKind::ContextLength, 400),
        (ErrorKind::ContentFilter, 400),
        (ErrorKind::InvalidRequest, 404),
    ] {
        let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
        h.provider.push("a", Step::fail(kind, status));
        let err = h
            .engine
            .chat("p/m", &hi(), &ChatOptions::default())
            .await
            .unwrap_err();
        let LMRotateError::Provider(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.kind, kind);
        assert_eq!(e.key_id, "a");
        assert_eq!(e.provider, "p");
        assert_eq!(h.provider.keys_called(), ["a"], "no retry after {kind}");
        assert_eq!(h.state("a").state, KeyState::Healthy);
        assert_eq!(h.state("a").consecutive_failures, 0);
    }
}

#[tokio::test]
async fn a_cooling_key_gets_no_call_until_its_time() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(10)));
    for _ in 0..6 {
        h.engine
            .chat("p/m", &hi(), &ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(
        h.provider.keys_called(),
        ["a", "b", "b", "b", "b", "b", "b"]
    );
    h.advance(Duration::from_millis(9_999));
    h.engine
        .chat("p/m", &hi(), &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(
        h.provider.keys_called().last().map(String::as_str),
        Some("b")
    );
    h.advance(Duration::from_millis(1));
    h.provider.clear_log();
    for _ in 0..2 {
        h.engine
            .chat("p/m", &hi(), &ChatOptions::default())
            .await
            .unwrap();
    }
    assert!(
        h.provider.keys_called().contains(&"a".to_owned()),
        "a is back after its cooldown"
    );
}
