//! Health-aware means headroom-aware: under sustained concurrent load against keys whose
//! fake upstream counts down a request budget per window (with OpenAI's real
//! `x-ratelimit-*` headers) and answers 429 past it, no key answers 429 while another
//! has headroom: each key's window is counted down by the calls in flight, and a key
//! with nothing left waits for its reset.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig, ManualClock};
use rotate_testkit::upstream::key_value;
use rotate_testkit::FakeUpstream;

/// Requests per one-second window of each key: 40 in all.
const BUDGETS: [(&str, u64); 4] = [("k0", 4), ("k1", 8), ("k2", 12), ("k3", 16)];
const WINDOWS: usize = 15;
const CONCURRENCY: usize = 8;
/// Calls per window: 90 % of what the keys allow together.
const CALLS_PER_WINDOW: usize = 36;

/// A client over the four budgeted keys under `strategy`; the upstream and the client
/// share one manual clock, so windows turn when the test says.
async fn budgeted(strategy: &str) -> (FakeUpstream, LMRotate, Arc<ManualClock>) {
    let upstream = FakeUpstream::start_quiet().await.unwrap();
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    upstream.set_clock(clock.clone());
    for (id, budget) in BUDGETS {
        upstream.set_request_budget(&key_value(id), budget, Duration::from_secs(1));
    }
    let ids: Vec<(&str, &str)> = BUDGETS.iter().map(|(id, _)| (*id, "openai")).collect();
    let config = upstream.config(
        &ids,
        serde_json::json!({"selection_strategy": strategy, "max_retries": 0}),
    );
    let client = LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(clock.clone())
        .build()
        .unwrap();
    (upstream, client, clock)
}

/// Runs `WINDOWS` windows of `CALLS_PER_WINDOW` calls, `CONCURRENCY` at a time; gives
/// how many calls failed.
async fn sustained_load(client: &LMRotate, clock: &ManualClock) -> usize {
    let mut failed = 0;
    let messages = [ChatMessage::user("hi")];
    for _ in 0..WINDOWS {
        for _ in 0..CALLS_PER_WINDOW / CONCURRENCY {
            let calls = (0..CONCURRENCY)
                .map(|_| client.chat("gpt-4o-mini", &messages, ChatOptions::default()));
            failed += join_all(calls).await.iter().filter(|r| r.is_err()).count();
        }
        clock.advance(Duration::from_secs(1));
    }
    failed
}

#[tokio::test]
async fn no_key_answers_429_while_another_has_headroom() {
    let (upstream, client, clock) = budgeted("health_aware").await;
    let failed = sustained_load(&client, &clock).await;
    assert_eq!(
        upstream.budget_refusals(),
        0,
        "a key was sent past its budget"
    );
    assert_eq!(failed, 0);
    // every key served, the larger budgets more
    let usage = client.usage_summary().await;
    let served: Vec<u64> = BUDGETS
        .iter()
        .map(|(id, _)| usage.by_key.get(*id).map_or(0, |c| c.successes))
        .collect();
    assert!(served.iter().all(|&n| n > 0), "{served:?}");
    assert!(served[3] > served[0], "{served:?}");
}

#[tokio::test]
async fn round_robin_keeps_to_the_windows_too() {
    let (upstream, client, clock) = budgeted("round_robin").await;
    sustained_load(&client, &clock).await;
    assert_eq!(upstream.budget_refusals(), 0);
}
