//! The gateway in front of the enterprise clouds: an Anthropic-dialect client served by
//! Bedrock keys through translation (plain and streamed), the same client served by
//! Claude on Vertex almost unchanged (its own fields kept, `model` moved to the URL,
//! `anthropic_version` added), an OpenAI client getting Bedrock's tool calls in its own
//! dialect (plain and streamed), and an OpenAI Responses client served by an Azure v1
//! key.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use http::StatusCode;
use rotate_testkit::{Api, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess};

fn messages(model: &str) -> Value {
    json!({"model": model, "max_tokens": 50, "system": "be brief",
        "metadata": {"user_id": "u-42"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
}

#[tokio::test]
async fn anthropic_clients_are_served_by_bedrock_and_by_claude_on_vertex() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[]);
    config["providers"]["bedrock"] =
        json!({"base_url": upstream.url(), "models": ["claude-on-bedrock"]});
    config["providers"]["vertex_anthropic"] =
        json!({"base_url": upstream.base_url(), "models": ["claude-sonnet-4@20250514"]});
    config["keys"] = json!([
        {"id": "br", "provider": "bedrock", "value": "ABSKgateway"},
        {"id": "vx", "provider": "vertex_anthropic",
            "value": upstream.service_account_json("gw@proj-9.iam.gserviceaccount.com", "proj-9"),
            "metadata": {"location": "europe-west1"}}
    ]);
    let gateway = GatewayProcess::start(&config);

    let (status, _, body) = gateway
        .post_json("/v1/messages", &messages("claude-on-bedrock"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"][0],
        json!({"type": "text", "text": "ok from ABSKgateway"})
    );
    assert_eq!(body["stop_reason"], "end_turn");
    let sent = &upstream.requests_to(Api::Bedrock)[0];
    assert_eq!(
        sent.body,
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "system": [{"text": "be brief"}], "inferenceConfig": {"maxTokens": 50}}),
        "translated to Converse"
    );

    let mut streamed = messages("claude-on-bedrock");
    streamed["stream"] = json!(true);
    let (status, _, bytes) = gateway
        .send(
            http::Method::POST,
            "/v1/messages",
            Some(support::TOKEN),
            streamed.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("event: message_start"), "{text}");
    assert!(text.contains("ok "), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
    assert!(upstream.requests_to(Api::Bedrock)[1]
        .path
        .ends_with("/converse-stream"));

    let (status, _, body) = gateway
        .post_json("/v1/messages", &messages("claude-sonnet-4@20250514"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["content"][0]["text"],
        "ok from gw@proj-9.iam.gserviceaccount.com"
    );
    let sent = &upstream.requests_to(Api::VertexAnthropic)[0];
    assert_eq!(
        sent.path,
        "/v1/projects/proj-9/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    );
    let mut expected = messages("claude-sonnet-4@20250514");
    expected.as_object_mut().unwrap().remove("model");
    expected["anthropic_version"] = json!("vertex-2023-10-16");
    assert_eq!(
        sent.body, expected,
        "the client's body as sent, but for model and version"
    );
}

#[tokio::test]
async fn responses_clients_are_served_by_azure_v1_keys() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[]);
    config["providers"]["azure_openai"] =
        json!({"base_url": format!("{}/openai/v1", upstream.url()), "models": ["gpt-4o-prod"]});
    config["keys"] = json!([{"id": "az", "provider": "azure_openai", "value": "azure-key-1"}]);
    let gateway = GatewayProcess::start(&config);
    let (status, _, body) = gateway
        .post_json(
            "/v1/responses",
            &json!({"model": "gpt-4o-prod", "input": "hi", "store": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "response");
    let sent = &upstream.requests_to(Api::OpenAi)[0];
    assert_eq!(sent.path, "/openai/v1/responses");
    assert_eq!(sent.header("api-key"), Some("azure-key-1"));
    assert_eq!(
        sent.body,
        json!({"model": "gpt-4o-prod", "input": "hi", "store": false})
    );
}

#[tokio::test]
async fn openai_clients_get_bedrock_tool_calls_in_their_own_dialect() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[]);
    config["providers"]["bedrock"] = json!({"base_url": upstream.url()});
    config["keys"] = json!([{"id": "br", "provider": "bedrock", "value": "ABSKopenai"}]);
    let gateway = GatewayProcess::start(&config);
    let call = llm_rotate::ToolCall::new("tooluse_7", "weather", r#"{"city":"Rome"}"#);
    upstream.script(
        "ABSKopenai",
        [
            rotate_testkit::Behavior::ToolCalls(vec![call.clone()]),
            rotate_testkit::Behavior::ToolCalls(vec![call]),
        ],
    );
    let request = json!({"model": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let (status, _, body) = gateway.post_json("/v1/chat/completions", &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let message = &body["choices"][0]["message"];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        message["tool_calls"],
        json!([{"id": "tooluse_7", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}])
    );
    let sent = &upstream.requests_to(Api::Bedrock)[0];
    assert_eq!(
        sent.path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    );
    assert_eq!(
        sent.body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "weather"
    );

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let (status, _, bytes) = gateway
        .send(
            http::Method::POST,
            "/v1/chat/completions",
            Some(support::TOKEN),
            streamed.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.contains(r#""tool_calls":[{"index":0,"id":"tooluse_7""#),
        "{text}"
    );
    assert!(text.contains(r#""finish_reason":"tool_calls""#), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}
