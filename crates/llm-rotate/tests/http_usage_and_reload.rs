//! Exact usage after 500 concurrent calls; reload adding and removing keys under load.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_exact_after_500_concurrent_calls() {
    let upstream = FakeUpstream::start().await.unwrap();
    let keys = [
        ("a", "openai"),
        ("b", "openai"),
        ("c", "openai"),
        ("d", "openai"),
    ];
    let client = LMRotate::new(
        LMRotateConfig::from_value(upstream.config(&keys, json!({"max_retries": 10}))).unwrap(),
    )
    .unwrap();
    upstream.script("sk-test-c", vec![Behavior::ServerError(500); 2]);
    let mut tasks = Vec::new();
    for _ in 0..500 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .chat(
                    "gpt-4o-mini",
                    &[ChatMessage::user("count me")],
                    ChatOptions::default(),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let usage = client.usage_summary().await;
    let requests = upstream.requests().len() as u64;
    assert_eq!(usage.total.requests, requests);
    assert_eq!(usage.total.successes, 500);
    assert_eq!(usage.total.failures, requests - 500);
    // "count me": 8 chars -> 2 tokens + 1 per message = 3 prompt tokens; "ok from sk-test-x" = 3 pieces
    assert_eq!(usage.total.prompt_tokens, 1_500);
    assert_eq!(usage.total.completion_tokens, 1_500);
    assert_eq!(usage.by_model["gpt-4o-mini"].requests, requests);
    let by_key: u64 = usage.by_key.values().map(|c| c.requests).sum();
    assert_eq!(by_key, requests);
    for (id, counters) in &usage.by_key {
        let seen = upstream.ids_called().iter().filter(|k| *k == id).count() as u64;
        assert_eq!(counters.requests, seen, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_never_calls_a_removed_key_again() {
    let upstream = FakeUpstream::start().await.unwrap();
    let before = [("a", "openai"), ("b", "openai"), ("c", "openai")];
    let client = LMRotate::new(
        LMRotateConfig::from_value(
            upstream.config(&before, json!({"selection_strategy": "round_robin"})),
        )
        .unwrap(),
    )
    .unwrap();
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(std::time::Duration::from_secs(
            300,
        )))],
    );
    let load: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    client
                        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let after = [("a", "openai"), ("c", "openai"), ("d", "openai")];
    client
        .reload_config(
            LMRotateConfig::from_value(
                upstream.config(&after, json!({"selection_strategy": "round_robin"})),
            )
            .unwrap(),
        )
        .unwrap();
    let b_at_reload = Arc::new(upstream.ids_called().iter().filter(|k| *k == "b").count());
    for task in load {
        task.await.unwrap();
    }
    let b_after_load = upstream.ids_called().iter().filter(|k| *k == "b").count();
    assert!(
        b_after_load <= *b_at_reload + 8,
        "at most the calls in flight at reload used b"
    );
    for _ in 0..60 {
        client
            .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
    }
    let calls = upstream.ids_called();
    assert_eq!(
        calls.iter().filter(|k| *k == "b").count(),
        b_after_load,
        "b is never called after reload settles"
    );
    assert!(calls.iter().any(|k| k == "d"), "the new key serves");
    let report = client.health().await;
    assert_eq!(
        report
            .keys
            .iter()
            .map(|k| k.key_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "c", "d"]
    );
    assert_eq!(
        report.keys[0].state,
        llm_rotate::KeyState::CoolingDown,
        "a kept its cooldown across the reload"
    );
}
