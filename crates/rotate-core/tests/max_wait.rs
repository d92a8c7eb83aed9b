//! Waiting within a deadline: a call with `max_wait` waits for a key that will be back in
//! time (woken by the manual clock, or early by an operator), fails at once past its
//! deadline or past `max_waiters`, and waiting calls are served in arrival order.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ChatResponse, Engine, ErrorKind, LMRotateError};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};
use tokio::task::JoinHandle;

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

/// One key `a`, resting for `seconds` after a 429 (the call that got it failed).
async fn resting_for(seconds: u64, max_waiters: u32) -> Harness {
    let mut config = keys_config("p", &["a"], "round_robin");
    config["defaults"]["max_waiters"] = max_waiters.into();
    let h = Harness::new(config, &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(seconds)));
    let first = h.engine.chat("p/m", &hi(), &ChatOptions::default()).await;
    assert_eq!(first.unwrap_err().kind(), ErrorKind::RateLimited);
    h
}

fn call(
    engine: &Engine,
    model: &str,
    wait: Duration,
) -> JoinHandle<Result<ChatResponse, LMRotateError>> {
    let engine = engine.clone();
    let model = model.to_owned();
    tokio::spawn(async move {
        engine
            .chat(&model, &hi(), &ChatOptions::default().max_wait(wait))
            .await
    })
}

/// Lets spawned calls run until they block.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_call_waits_for_a_key_that_comes_back_in_time() {
    let h = resting_for(5, 8).await;
    let waiting = call(&h.engine, "p/m", Duration::from_secs(10));
    settle().await;
    assert!(!waiting.is_finished());
    assert_eq!(h.engine.waiting_calls(), 1);
    h.advance(Duration::from_secs(4));
    settle().await;
    assert!(!waiting.is_finished(), "woke before the key's rest ended");
    h.advance(Duration::from_secs(1));
    let reply = waiting.await.unwrap().unwrap();
    assert_eq!(reply.key_id, "a");
    assert_eq!(h.engine.waiting_calls(), 0);
}

#[tokio::test]
async fn past_the_deadline_a_call_fails_at_once_with_the_wait() {
    let h = resting_for(30, 8).await;
    let refused = call(&h.engine, "p/m", Duration::from_secs(10));
    settle().await;
    assert!(
        refused.is_finished(),
        "waited for a key that comes back too late"
    );
    let LMRotateError::NoAvailableKey(error) = refused.await.unwrap().unwrap_err() else {
        panic!("expected NoAvailableKey")
    };
    assert_eq!(error.retry_in, Some(Duration::from_secs(30)));
    // without max_wait nothing waits either
    let plain = h.engine.chat("p/m", &hi(), &ChatOptions::default()).await;
    assert!(matches!(plain, Err(LMRotateError::NoAvailableKey(_))));
}

#[tokio::test]
async fn an_operator_bringing_a_key_back_wakes_the_waiter_early() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    h.provider.push("a", Step::fail(ErrorKind::Auth, 401));
    assert!(h
        .engine
        .chat("p/m", &hi(), &ChatOptions::default())
        .await
        .is_err());
    // quarantined for 300 s; the call may wait 400
    let waiting = call(&h.engine, "p/m", Duration::from_secs(400));
    settle().await;
    assert!(!waiting.is_finished());
    h.engine.set_key_enabled("a", true).unwrap();
    let reply = waiting.await.unwrap().unwrap();
    assert_eq!(reply.key_id, "a");
}

#[tokio::test]
async fn waiters_are_bounded_and_served_in_arrival_order() {
    let h = resting_for(5, 3).await;
    h.provider.clear_log();
    let calls: Vec<_> = ["p/m1", "p/m2", "p/m3"]
        .iter()
        .map(|model| {
            let handle = call(&h.engine, model, Duration::from_secs(10));
            (model, handle)
        })
        .collect();
    settle().await;
    assert_eq!(h.engine.waiting_calls(), 3);
    // a fourth finds the queue full and fails at once
    let fourth = call(&h.engine, "p/m4", Duration::from_secs(10));
    settle().await;
    assert!(fourth.is_finished());
    assert!(matches!(
        fourth.await.unwrap(),
        Err(LMRotateError::NoAvailableKey(_))
    ));
    h.advance(Duration::from_secs(5));
    for (model, handle) in calls {
        let reply = handle.await.unwrap().unwrap();
        assert_eq!(format!("p/{}", reply.model), *model);
    }
    let models: Vec<String> = h.provider.calls().into_iter().map(|c| c.model).collect();
    assert_eq!(models, ["m1", "m2", "m3"]);
}

#[tokio::test]
async fn a_huge_wait_saturates_instead_of_overflowing() {
    let h = resting_for(5, 8).await;
    let waiting = call(&h.engine, "p/m", Duration::MAX);
    settle().await;
    assert!(!waiting.is_finished());
    h.advance(Duration::from_secs(5));
    assert_eq!(waiting.await.unwrap().unwrap().key_id, "a");
}
