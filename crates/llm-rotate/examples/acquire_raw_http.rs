//! `acquire`: borrow a key, make the HTTP call yourself (any SDK or client), and report
//! the outcome so the health machine learns from it.
//!
//! `cargo run -p llm-rotate --example acquire_raw_http`

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use llm_rotate::{ExposeSecret, LMRotate, LMRotateConfig, ReportedError};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(20)))],
    );
    let client = LMRotate::new(LMRotateConfig::from_value(
        upstream.config(&[("a", "openai"), ("b", "openai")], serde_json::json!({})),
    )?)?;
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    for _ in 0..2 {
        let key = client.acquire("openai", Some("gpt-4o-mini")).await?;
        let base = key
            .base_url()
            .unwrap_or("https://api.openai.com/v1")
            .to_owned();
        let request = http::Request::post(format!("{base}/chat/completions"))
            .header(
                "authorization",
                format!("Bearer {}", key.key_value().expose_secret()),
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
            )))?;
        let response = http.request(request).await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "key {} -> {status} {}",
            key.key_id(),
            String::from_utf8_lossy(&body)
                .chars()
                .take(60)
                .collect::<String>()
        );
        if status == 200 {
            key.report_success(None).await;
        } else {
            let mut report = ReportedError::from_status(status);
            if let Some(secs) = retry_after {
                report = report.with_retry_after(Duration::from_secs(secs));
            }
            key.report_error(report).await;
        }
    }
    println!(
        "{:?}",
        client
            .health()
            .await
            .keys
            .iter()
            .map(|k| (k.key_id.clone(), k.state))
            .collect::<Vec<_>>()
    );
    Ok(())
}
