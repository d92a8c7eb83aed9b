//! The official google-genai Python SDK against the gateway's Gemini routes, in front of
//! the fake upstream: a streamed function call whose thought signature reaches the SDK,
//! the functionResponse turn carrying the model's turn back whole, `countTokens`, and
//! embeddings passed through to `batchEmbedContents`, and an overloaded Gemini entry
//! falling back to OpenAI and to Bedrock keys answered in Gemini's shape.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/python_sdks.rs"]
mod python_sdks;
#[path = "support/gateway_process.rs"]
mod support;

use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, TOKEN};

/// The summary `genai_sdk_check.py` prints for `args` against `gateway`.
async fn genai_summary(gateway: &GatewayProcess, args: &[&str]) -> Value {
    let envs = [
        ("GEMINI_BASE_URL", gateway.url.as_str()),
        ("GEMINI_API_KEY", TOKEN),
    ];
    python_sdks::summary("genai_sdk_check.py", args, &envs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_function_calling_streams_and_comes_back_signed() {
    let upstream = FakeUpstream::start().await.unwrap();
    let call = llm_rotate::ToolCall::new("unused", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-g", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-g", Behavior::Reply("18 C in Paris".into()));
    let gateway = GatewayProcess::start(&config(&upstream, &[("g", "google")]));
    let summary = genai_summary(&gateway, &[]).await;
    assert_eq!(summary["name"], "weather");
    assert_eq!(summary["args"], json!({"city": "Paris"}));
    assert_eq!(summary["answer"], "18 C in Paris");
    assert!(summary["count"].as_u64().unwrap() > 0);
    let expected: Vec<Vec<f32>> = ["hello", "worlds"]
        .iter()
        .map(|t| rotate_testkit::upstream::vector_of(t, Some(3)))
        .collect();
    assert_eq!(summary["vectors"], json!(expected));
    let requests = upstream.requests();
    assert_eq!(requests.len(), 3, "countTokens is answered by the gateway");
    assert!(
        requests[2].path.ends_with(":batchEmbedContents"),
        "{}",
        requests[2].path
    );
    assert_eq!(requests[2].body["requests"][1]["outputDimensionality"], 3);
    assert!(requests.iter().all(|r| r.api == Api::Gemini));
    assert!(requests[0]
        .path
        .ends_with("gemini-2.5-flash:streamGenerateContent"));
    // the second turn as the SDK wrote it: the model's functionCall part with its
    // signature, then the functionResponse
    let contents = &requests[1].body["contents"];
    let model_turn = &contents[1];
    assert_eq!(model_turn["role"], "model");
    let call_part = model_turn["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap();
    assert_eq!(call_part["functionCall"]["name"], "weather");
    assert!(call_part["thoughtSignature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"],
        json!({"name": "weather", "response": {"result": "18 C"}})
    );
    assert_eq!(
        requests[1].body["tools"][0]["functionDeclarations"][0]["name"],
        "weather"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_gemini_entry_falls_back_to_an_openai_key_in_geminis_shape() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default("sk-test-g", Behavior::Overloaded);
    let call = llm_rotate::ToolCall::new("call_g1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-o", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-o", Behavior::Reply("hello from openai".into()));
    let mut config = config(&upstream, &[("g", "google"), ("o", "openai")]);
    config["defaults"]["max_retries"] = json!(0);
    config["fallback_chains"] = json!({"sturdy": [
        {"provider": "google", "upstream": "gemini-2.5-flash"},
        {"provider": "openai", "upstream": "gpt-4o"}
    ]});
    let gateway = GatewayProcess::start(&config);
    let summary = genai_summary(&gateway, &["fallback"]).await;
    assert_eq!(summary["name"], "weather");
    assert_eq!(summary["args"], json!({"city": "Paris"}));
    assert_eq!(summary["text"], "hello from openai");
    assert_eq!(summary["finish"], "STOP");
    let requests = upstream.requests();
    assert_eq!(requests[0].api, Api::Gemini);
    let openai: Vec<_> = requests.iter().filter(|r| r.api == Api::OpenAi).collect();
    assert_eq!(openai.len(), 2);
    assert_eq!(
        openai[0].body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}])
    );
    assert_eq!(openai[0].body["tools"][0]["function"]["name"], "weather");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_gemini_entry_falls_back_to_a_bedrock_key_in_geminis_shape() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default("sk-test-g", Behavior::Overloaded);
    let call = llm_rotate::ToolCall::new("tooluse_g1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("ABSKgenai", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("ABSKgenai", Behavior::Reply("hello from bedrock".into()));
    let mut config = config(&upstream, &[("g", "google")]);
    config["defaults"]["max_retries"] = json!(0);
    config["providers"]["bedrock"] = json!({"base_url": upstream.url()});
    config["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "br", "provider": "bedrock", "value": "ABSKgenai"}));
    config["fallback_chains"] = json!({"sturdy": [
        {"provider": "google", "upstream": "gemini-2.5-flash"},
        {"provider": "bedrock", "upstream": "amazon.nova-pro-v1:0"}
    ]});
    let gateway = GatewayProcess::start(&config);
    let summary = genai_summary(&gateway, &["fallback"]).await;
    assert_eq!(summary["name"], "weather");
    assert_eq!(summary["args"], json!({"city": "Paris"}));
    assert_eq!(summary["text"], "hello from bedrock");
    assert_eq!(summary["finish"], "STOP");
    let bedrock = upstream.requests_to(Api::Bedrock);
    assert_eq!(bedrock.len(), 2);
    assert!(bedrock[0]
        .path
        .ends_with("/model/amazon.nova-pro-v1%3A0/converse-stream"));
    assert_eq!(bedrock[0].body["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        bedrock[0].body["messages"],
        json!([{"role": "user", "content": [{"text": "Weather in Paris?"}]}])
    );
    assert_eq!(
        bedrock[0].body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "weather"
    );
}
