//! Two `llm-rotate serve` replicas sharing key health through Redis (a real server, a
//! fresh namespace): a key rate-limited behind one replica is cooled in the other, which
//! then answers 429 without calling the upstream; usage from both adds up.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use rotate_testkit::redis_server::{fresh_namespace, test_redis_url};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayClient, GatewayProcess, TOKEN};

fn chat() -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
}

async fn health(gateway: &GatewayClient) -> Value {
    let (status, _, body) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_slice(&body).unwrap()
}

/// Polls `gateway`'s health until `check` holds, for at most 5 s.
async fn until(gateway: &GatewayClient, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..500 {
        let report = health(gateway).await;
        if check(&report) {
            return report;
        }
        #[allow(clippy::disallowed_methods)] // polling for propagation, not waiting out a cooldown
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached: {}", health(gateway).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_cooldowns_and_usage_through_redis() {
    let upstream = FakeUpstream::start().await.unwrap();
    let namespace = fresh_namespace("gateway-fleet");
    let mut shared = config(&upstream, &[("a", "openai")]);
    shared["state_store"] =
        json!({"backend": "redis", "redis_url": test_redis_url(), "redis_namespace": namespace});
    let one = GatewayProcess::start(&shared);
    let two = GatewayProcess::start(&shared);
    for replica in [&one, &two] {
        until(replica, |h| h["store"]["connected"] == true).await;
        let (status, _, body) = replica.post_json("/v1/chat/completions", &chat()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    until(&two, |h| h["keys"][0]["requests"] == 2).await;

    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(60)))],
    );
    let (status, _, _) = one.post_json("/v1/chat/completions", &chat()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let seen = until(&two, |h| h["keys"][0]["state"] == "cooling_down").await;
    assert_eq!(seen["keys"][0]["key_id"], "a");

    upstream.clear_requests();
    let (status, headers, body) = two.post_json("/v1/chat/completions", &chat()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((58..=60).contains(&wait), "{wait}");
    assert!(
        upstream.requests().is_empty(),
        "the other replica does not call a key cooling in the fleet"
    );
    for text in [
        health(&one).await.to_string(),
        health(&two).await.to_string(),
    ] {
        assert!(!text.contains("sk-test") && !text.contains(&test_redis_url()[..8]));
    }

    rotate_store::RedisStore::new(&test_redis_url(), &namespace)
        .unwrap()
        .delete_namespace()
        .await
        .unwrap();
}
