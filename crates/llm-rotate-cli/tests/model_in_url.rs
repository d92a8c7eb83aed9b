//! A gateway client holding only a gateway token cannot steer the upstream URL through
//! the model name: the attacks of the security report, on the OpenAI route with an
//! `azure_openai` key and on the Gemini route, are 400s in the client's dialect with no
//! upstream request and no key blamed; ordinary model ids still reach the template.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use http::{Method, StatusCode};
use rotate_testkit::FakeUpstream;
use serde_json::{json, Value};
use support::{config, GatewayProcess, TOKEN};

fn azure_gateway(upstream: &FakeUpstream) -> GatewayProcess {
    let mut config = config(upstream, &[("g", "google")]);
    config["providers"]["azure_openai"] = json!({"base_url": upstream.url()});
    config["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "az", "provider": "azure_openai", "value": "sk-test-az"}));
    GatewayProcess::start(&config)
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn hostile_models_on_the_openai_route_never_reach_the_upstream() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = azure_gateway(&upstream);
    for model in [
        "azure_openai/gpt-4o/../../../admin",
        "azure_openai/gpt-4o?api-version=1",
        "azure_openai/x/../../y",
        "azure_openai/x%2F..%2Fy",
        "azure_openai/x\r\nHost: evil",
        "azure_openai/a/b",
    ] {
        let (status, _, body) = gateway
            .post_json("/v1/chat/completions", &chat(model))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{model}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{model}");
        assert_eq!(body["error"]["code"], "invalid_request", "{model}");
    }
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());

    let (status, _, body) = gateway
        .post_json("/v1/chat/completions", &chat("azure_openai/gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = upstream.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/openai/deployments/gpt-4o/chat/completions");
    assert_eq!(sent[0].query.as_deref(), Some("api-version=2024-10-21"));

    let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    let health: Value = serde_json::from_slice(&health).unwrap();
    let az = health["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == "az")
        .unwrap();
    assert_eq!(az["state"], "healthy");
    assert_eq!(
        az["failures"], 0,
        "no refused call is counted against the key"
    );
}

#[tokio::test]
async fn hostile_models_on_the_gemini_route_never_reach_the_upstream() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = azure_gateway(&upstream);
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for path in [
        "/v1beta/models/gemini-2.5-flash%2F..%2F..%2Fcached:generateContent",
        "/v1beta/models/gemini-2.5-flash%3FstreamGenerateContent:generateContent",
        "/v1beta/models/gemini-2.5-flash%0D%0AX:generateContent",
        "/v1beta/models/gemini-2.5-flash%2Fx:generateContent",
        "/v1beta/models/%FF:generateContent",
        "/v1beta/models/..:generateContent",
    ] {
        let (status, _, answer) = gateway
            .send(Method::POST, path, Some(TOKEN), body.to_string())
            .await;
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT", "{path}");
    }
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());

    let (status, _, answer) = gateway
        .send(
            Method::POST,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            Some(TOKEN),
            body.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        upstream.requests()[0].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
}

#[tokio::test]
async fn a_bad_model_without_a_token_is_still_a_401() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = azure_gateway(&upstream);
    let (status, _, _) = gateway
        .send(
            Method::POST,
            "/v1beta/models/%FF:generateContent",
            None,
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
