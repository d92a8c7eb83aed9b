//! Slow start: a key back from a rest takes a tenth of its share, rising linearly to all
//! of it over `slow_start_seconds` (under `weighted` and `health_aware`), and a failure
//! during the ramp quarantines it at once.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, KeyState};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

const CALLS: usize = 4_000;

/// Keys a and b under `strategy` with a 100 s slow start; `a` has just come back from a
/// 10 s cooldown.
async fn a_back_from_a_rest(strategy: &str) -> Harness {
    let mut config = keys_config("p", &["a", "b"], strategy);
    config["defaults"]["slow_start_seconds"] = 100.into();
    let h = Harness::new(config, &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(10)));
    h.provider
        .push("b", Step::rate_limited(Duration::from_secs(1)));
    // both rest (b only briefly, and its ramp ends long before a's)
    let _ = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await;
    h.advance(Duration::from_secs(200));
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(10)));
    while !h.state("a").is_resting(h.now_ms()) {
        let _ = h
            .engine
            .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
            .await;
    }
    h.advance(Duration::from_secs(10));
    h
}

/// The share of `CALLS` calls that `a` serves.
async fn share_of_a(h: &Harness) -> f64 {
    h.provider.clear_log();
    h.provider.set_log_enabled(true);
    for _ in 0..CALLS {
        h.engine
            .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
            .await
            .unwrap();
    }
    let to_a = h
        .provider
        .keys_called()
        .iter()
        .filter(|k| *k == "a")
        .count();
    to_a as f64 / CALLS as f64
}

/// `a`'s part of the traffic when its ramp admits it with probability `ramp`: its weight
/// scaled by the ramp (`weighted`), or the ramp's fraction of its even half
/// (`health_aware`, where a refused pick goes to the other candidate).
fn expected_share(strategy: &str, ramp: f64) -> f64 {
    if strategy == "weighted" {
        ramp / (1.0 + ramp)
    } else {
        ramp / 2.0
    }
}

async fn ramp_shows(strategy: &str) {
    let h = a_back_from_a_rest(strategy).await;
    let mut previous = 0.0;
    for (seconds_in, ramp) in [(0, 0.1), (50, 0.55), (100, 1.0)] {
        if seconds_in > 0 {
            h.advance(Duration::from_secs(50));
        }
        let share = share_of_a(&h).await;
        let expected = expected_share(strategy, ramp);
        assert!(
            (share - expected).abs() < 0.05,
            "{strategy}: {seconds_in} s into the ramp a served {share:.3}, expected about {expected:.3}"
        );
        assert!(share > previous, "{strategy}: the share fell");
        previous = share;
    }
}

#[tokio::test]
async fn weighted_ramps_a_key_back_up() {
    ramp_shows("weighted").await;
}

#[tokio::test]
async fn health_aware_ramps_a_key_back_up() {
    ramp_shows("health_aware").await;
}

#[tokio::test]
async fn a_failure_during_the_ramp_quarantines_at_once() {
    let h = a_back_from_a_rest("weighted").await;
    h.advance(Duration::from_secs(20));
    h.provider
        .set_default("a", Step::fail(ErrorKind::ServerError, 500));
    h.provider.clear_log();
    while h.provider.keys_called().iter().all(|k| k != "a") {
        h.engine
            .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    assert_eq!(h.state("a").consecutive_failures, 1);
}

#[tokio::test]
async fn without_slow_start_a_key_comes_back_at_full_share() {
    let h = Harness::new(keys_config("p", &["a", "b"], "weighted"), &["p"]);
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(10)));
    let _ = h
        .engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await;
    h.advance(Duration::from_secs(10));
    let share = share_of_a(&h).await;
    assert!((share - 0.5).abs() < 0.01, "{share}");
}
