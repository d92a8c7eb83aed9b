//! `acquire` with a raw HTTP call: the key goes out, the outcome comes back.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use llm_rotate::{ExposeSecret, KeyState, LMRotate, LMRotateConfig, ReportedError};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

async fn raw_call(url: &str, key: &str) -> (u16, Option<Duration>) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(format!("{url}/chat/completions"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    let _ = response.into_body().collect().await;
    (status, retry)
}

#[tokio::test]
async fn acquire_report_success_and_error() {
    let upstream = FakeUpstream::start().await.unwrap();
    let config = upstream.config(
        &[("a", "openai"), ("b", "openai")],
        json!({"selection_strategy": "round_robin"}),
    );
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(60)))],
    );

    let ctx = client.acquire("openai", Some("gpt-4o")).await.unwrap();
    assert_eq!(ctx.key_id(), "a");
    assert_eq!(ctx.base_url(), Some(upstream.base_url().as_str()));
    let (status, retry) = raw_call(&upstream.base_url(), ctx.key_value().expose_secret()).await;
    assert_eq!(status, 429);
    let mut report = ReportedError::from_status(status);
    if let Some(retry) = retry {
        report = report.with_retry_after(retry);
    }
    ctx.report_error(report).await;
    let health = client.health().await;
    assert_eq!(health.keys[0].state, KeyState::CoolingDown);
    let wait = health.keys[0].available_in_ms.unwrap();
    assert!((59_000..=60_000).contains(&wait), "{wait}");

    let ctx = client.acquire("openai", None).await.unwrap();
    assert_eq!(ctx.key_id(), "b", "the cooling key is not handed out");
    let (status, _) = raw_call(&upstream.base_url(), ctx.key_value().expose_secret()).await;
    assert_eq!(status, 200);
    ctx.report_success(Some("azure-eastus")).await;
    let usage = client.usage_summary().await;
    assert_eq!(usage.by_key["b"].successes, 1);
    assert_eq!(usage.by_upstream_provider["azure-eastus"].requests, 1);
}
