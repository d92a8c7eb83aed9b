//! A fallback chain across two providers with upstream model ids; `extra` reaches the body.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::json;

#[tokio::test]
async fn openai_failures_fall_back_to_anthropic_with_its_model_id() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(
        &[("oa", "openai"), ("an", "anthropic")],
        json!({"max_retries": 1}),
    );
    config["fallback_chains"] = json!({"smart": [
        {"provider": "openai", "upstream": "gpt-4o"},
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
    ]});
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    upstream.script("sk-test-oa", [Behavior::ServerError(500)]);
    let reply = client
        .chat(
            "smart",
            &[ChatMessage::system("terse"), ChatMessage::user("hi")],
            ChatOptions::default().extra("top_k", 5),
        )
        .await
        .unwrap();
    assert_eq!(reply.provider, "anthropic");
    assert_eq!(reply.model, "claude-sonnet-4-5");
    assert_eq!(reply.content, "ok from sk-test-an");
    let requests = upstream.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].api, requests[0].body["model"].as_str()),
        (Api::OpenAi, Some("gpt-4o"))
    );
    assert_eq!(
        (requests[1].api, requests[1].body["model"].as_str()),
        (Api::Anthropic, Some("claude-sonnet-4-5"))
    );
    assert_eq!(requests[1].body["system"], "terse");
    assert_eq!(requests[1].body["top_k"], 5, "extra reaches the body");
    // the next call goes to openai first again
    let reply = client
        .chat("smart", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.provider, "openai");
}

#[tokio::test]
async fn extra_and_typed_options_reach_the_openai_body() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = LMRotate::new(
        LMRotateConfig::from_value(upstream.config(&[("a", "openai")], json!({}))).unwrap(),
    )
    .unwrap();
    let opts = ChatOptions::default()
        .max_tokens(77)
        .temperature(0.5)
        .extra("response_format", json!({"type": "json_object"}))
        .extra("seed", 7);
    client
        .chat("gpt-4o-mini", &[ChatMessage::user("hi")], opts)
        .await
        .unwrap();
    let body = &upstream.requests()[0].body;
    assert_eq!(body["max_tokens"], 77);
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(body["seed"], 7);
}
