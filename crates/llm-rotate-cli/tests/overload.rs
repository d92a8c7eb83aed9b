//! Past `gateway.max_in_flight` requests at once, the gateway sheds load with a 503 and
//! `Retry-After` in the client's dialect, keeps answering `/health`, and serves again
//! once the burst is over.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;
use support::{config, GatewayProcess, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_limit_gets_503_with_retry_after() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[("a", "openai"), ("b", "openai")]);
    config["gateway"]["max_in_flight"] = json!(2);
    let gateway = std::sync::Arc::new(GatewayProcess::start(&config));
    let slow = Behavior::Latency(Duration::from_millis(800), Box::new(Behavior::Ok));
    upstream.set_default("sk-test-a", slow.clone());
    upstream.set_default("sk-test-b", slow);
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let gateway = gateway.clone();
            let body = body.clone();
            tokio::spawn(async move {
                gateway
                    .send(Method::POST, "/v1/chat/completions", Some(TOKEN), body)
                    .await
            })
        })
        .collect();
    let (status, _, _) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    assert_eq!(status, StatusCode::OK, "health is served during the burst");
    let mut ok = 0;
    let mut shed = 0;
    for call in burst {
        let (status, headers, bytes) = call.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                shed += 1;
                assert_eq!(headers["retry-after"], "1");
                let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(answer["error"]["code"], "overloaded");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        (1..=2).contains(&ok),
        "at most the limit is served at once: {ok} ok, {shed} shed"
    );
    assert_eq!(ok + shed, 6);
    assert!(
        upstream.requests().len() <= 2,
        "shed requests never reach the upstream"
    );
    let (status, _, _) = gateway
        .send(Method::POST, "/v1/chat/completions", Some(TOKEN), body)
        .await;
    assert_eq!(status, StatusCode::OK, "served again after the burst");
}
