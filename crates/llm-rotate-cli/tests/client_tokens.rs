//! Client tokens (`gateway.clients`): each client's rpm holds across routes and dialects,
//! its budget turns into a 402 in its dialect once spent, it may call only its models,
//! and its usage and refusals show in `/metrics`; plain gateway tokens keep working.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use http::{Method, StatusCode};
use rotate_testkit::FakeUpstream;
use serde_json::{json, Value};
use support::{config, GatewayClient, GatewayProcess, TOKEN};

const ALPHA: &str = "gw-client-alpha";
const BETA: &str = "gw-client-beta";

fn clients_config(upstream: &FakeUpstream) -> Value {
    let mut config = config(
        upstream,
        &[("a", "openai"), ("b", "openai"), ("c", "anthropic")],
    );
    config["providers"]["openai"]["models"] = json!(["gpt-4o", "gpt-4.1"]);
    config["providers"]["anthropic"]["models"] = json!(["claude-sonnet-4-5"]);
    config["gateway"]["clients"] = json!([
        {"id": "alpha", "token": ALPHA, "models": ["gpt-*"], "rpm": 3},
        // gpt-4o's built-in price makes any call cost more than this
        {"id": "beta", "token": BETA, "budget_usd_per_day": 0.000001}
    ]);
    config
}

async fn call(gateway: &GatewayClient, route: usize, token: &str) -> (StatusCode, String, Value) {
    let ask = json!([{"role": "user", "content": "hi"}]);
    let (path, body) = match route % 4 {
        0 => (
            "/v1/chat/completions".to_owned(),
            json!({"model": "gpt-4o", "messages": ask}),
        ),
        1 => (
            "/v1/responses".to_owned(),
            json!({"model": "gpt-4o", "input": "hi"}),
        ),
        2 => (
            "/v1/messages".to_owned(),
            json!({"model": "gpt-4o", "max_tokens": 16, "messages": ask}),
        ),
        _ => (
            "/v1beta/models/gpt-4o:generateContent".to_owned(),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    };
    let (status, headers, bytes) = gateway
        .send(Method::POST, &path, Some(token), body.to_string())
        .await;
    let retry_after = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn minute() -> u64 {
    #[allow(clippy::disallowed_methods)] // the gateway counts in real UTC minutes
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_s_rpm_holds_across_every_route_and_dialect() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&clients_config(&upstream));
    // the window is the UTC minute: a run that straddles two minutes is run again
    for _ in 0..3 {
        let started = minute();
        let mut answers = Vec::new();
        // chat, responses, gemini served; then messages, gemini and chat refused
        for route in [0, 1, 3, 2, 3, 0] {
            answers.push(call(&gateway, route, ALPHA).await);
        }
        if minute() != started {
            continue;
        }
        let served = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
        assert_eq!(served, 3, "{answers:?}");
        // each refusal in its route's dialect, saying when the minute ends
        let (status, retry_after, body) = &answers[3];
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
        let wait: u64 = retry_after.parse().unwrap();
        assert!((1..=60).contains(&wait), "{retry_after}");
        assert_eq!(answers[4].0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answers[4].2["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(answers[5].2["error"]["code"], "rate_limit_exceeded");
        assert_eq!(answers[5].2["error"]["type"], "requests");
        // a plain gateway token has no limit
        let (status, _, _) = call(&gateway, 0, TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, metrics) = gateway.send(Method::GET, "/metrics", Some(TOKEN), "").await;
        let metrics = String::from_utf8_lossy(&metrics);
        assert!(
            metrics.contains("llm_rotate_client_refusals_total{client=\"alpha\",limit=\"rpm\"} 3"),
            "{metrics}"
        );
        assert!(
            metrics.contains("llm_rotate_client_requests_total{client=\"alpha\"} 3"),
            "{metrics}"
        );
        return;
    }
    panic!("three runs in a row straddled a minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_is_a_402_and_models_are_restricted() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&clients_config(&upstream));
    // the budget is checked before the call: the first one goes through and spends it
    let (status, _, body) = call(&gateway, 0, BETA).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, retry_after, body) = call(&gateway, 2, BETA).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["type"], "billing_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget_usd_per_day"),
        "{body}"
    );
    assert!(!retry_after.is_empty(), "the renewal is announced");
    let (status, _, body) = call(&gateway, 0, BETA).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body["error"]["code"], "budget_exceeded");
    // what beta spent is in its usage, by client
    let (_, _, metrics) = gateway.send(Method::GET, "/metrics", Some(TOKEN), "").await;
    let metrics = String::from_utf8_lossy(&metrics);
    let cost = metrics
        .lines()
        .find_map(|l| l.strip_prefix("llm_rotate_client_cost_usd_total{client=\"beta\"} "))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(cost.parse::<f64>().unwrap() > 0.000001, "{cost}");

    // alpha may call gpt-* only: refused before any upstream call, in the route's dialect
    let before = upstream.ids_called().len();
    let (status, _, bytes) = gateway
        .send(
            Method::POST,
            "/v1/messages",
            Some(ALPHA),
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["type"], "permission_error", "{body}");
    assert_eq!(upstream.ids_called().len(), before);
    // and its model list shows only what it may call
    let (_, _, bytes) = gateway
        .send(Method::GET, "/v1/models", Some(ALPHA), "")
        .await;
    let models: Value = serde_json::from_slice(&bytes).unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-4o", "gpt-4.1"]);
    let (_, _, bytes) = gateway
        .send(Method::GET, "/v1/models", Some(TOKEN), "")
        .await;
    assert!(String::from_utf8_lossy(&bytes).contains("claude-sonnet-4-5"));
    // a token nobody has is still a 401
    let (status, _, _) = call(&gateway, 0, "gw-client-nobody").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
