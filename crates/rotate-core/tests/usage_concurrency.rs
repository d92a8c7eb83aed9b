//! Usage accounting is exact after many concurrent calls, and in-flight slots are freed.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_is_exact_after_a_thousand_concurrent_calls() {
    let h = Arc::new(Harness::new(
        keys_config("p", &["a", "b", "c", "d"], "health_aware"),
        &["p"],
    ));
    // 100 scripted transient failures on key d: each costs one failed attempt, then another key serves
    for _ in 0..100 {
        h.provider
            .push("d", Step::fail(ErrorKind::ServerError, 500));
    }
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            h.engine
                .chat(
                    "p/m",
                    &[ChatMessage::user("hi")],
                    &ChatOptions::default().max_retries(200),
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1000);
    let usage = h.engine.usage_summary().await;
    let calls = h.provider.calls().len() as u64;
    assert_eq!(usage.total.requests, calls);
    assert_eq!(usage.total.successes, 1000);
    assert_eq!(usage.total.failures, calls - 1000);
    assert_eq!(usage.total.prompt_tokens, 10_000);
    assert_eq!(usage.total.completion_tokens, 5_000);
    assert_eq!(usage.total.total_tokens, 15_000);
    assert_eq!(usage.by_provider["p"], usage.total);
    assert_eq!(usage.by_model["m"], usage.total);
    let per_key: u64 = usage.by_key.values().map(|c| c.requests).sum();
    assert_eq!(per_key, calls);
    let report = h.engine.health().await;
    let reported: u64 = report.keys.iter().map(|k| k.requests).sum();
    assert_eq!(reported, calls);
}
