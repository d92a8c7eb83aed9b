//! The official Anthropic Python SDK against the gateway's `POST /v1/messages`, in front
//! of the fake upstream: a Claude Code-shaped request reaching an Anthropic key whole
//! (cache_control, thinking, metadata and the beta header included), a streamed tool
//! loop served by an OpenAI key and by a Bedrock key through the translation, and the
//! errors the SDK maps (wrong token, rate limits with `Retry-After`, a bad field).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/python_sdks.rs"]
mod python_sdks;
#[path = "support/gateway_process.rs"]
mod support;

use std::time::Duration;

use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, TOKEN};

const MODEL: &str = "claude-sonnet-4-5";

/// Runs a scenario of the SDK script against `gateway` and returns its summary.
async fn sdk(gateway: &GatewayProcess, scenario: &str) -> Value {
    let envs = [
        ("ANTHROPIC_BASE_URL", gateway.url.as_str()),
        ("ANTHROPIC_AUTH_TOKEN", TOKEN),
    ];
    python_sdks::summary("anthropic_sdk_check.py", &[scenario], &envs).await
}

fn header<'a>(request: &'a rotate_testkit::RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claude_code_request_reaches_an_anthropic_key_whole() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default("sk-test-a", Behavior::Reply("terse hello".into()));
    upstream.set_default("sk-test-b", Behavior::Reply("terse hello".into()));
    // the first key fails once: the SDK never sees it
    upstream.script("sk-test-a", [Behavior::ServerError(529)]);
    let mut config = config(&upstream, &[("a", "anthropic"), ("b", "anthropic")]);
    config["providers"]["anthropic"]["models"] = json!([MODEL]);
    let gateway = GatewayProcess::start(&config);
    let summary = sdk(&gateway, "claude-code").await;
    assert_eq!(summary["plain"], "terse hello");
    assert_eq!(summary["streamed"], "terse hello");
    assert!(summary["count"].as_u64().unwrap() > 0);
    let requests = upstream.requests();
    assert!(requests.iter().all(|r| r.api == Api::Anthropic));
    assert_eq!(upstream.ids_called()[..2], ["a", "b"], "the 529 moved on");
    for sent in &requests {
        // the body as the SDK wrote it: every field, known or not, with the model set
        assert_eq!(sent.body["model"], MODEL);
        assert_eq!(
            sent.body["system"],
            json!([{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}])
        );
        assert_eq!(
            sent.body["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            sent.body["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
        assert_eq!(sent.body["metadata"], json!({"user_id": "user_0123"}));
        assert_eq!(
            sent.body["tools"][0]["input_schema"]["required"],
            json!(["city"])
        );
        assert_eq!(
            header(sent, "anthropic-beta"),
            Some("interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14")
        );
        assert_eq!(header(sent, "anthropic-version"), Some("2023-06-01"));
        // the upstream got the key's credential, never the client's gateway token
        assert!(header(sent, "x-api-key").unwrap().starts_with("sk-test-"));
        assert!(header(sent, "authorization").is_none());
    }
    assert_eq!(requests.last().unwrap().body["stream"], true);
    assert!(requests[1].body.get("stream").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_sdk_tool_loop_served_by_a_bedrock_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let call = llm_rotate::ToolCall::new("tooluse_br_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("ABSKsdk", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("ABSKsdk", Behavior::Reply("18 C in Paris".into()));
    let mut config = config(&upstream, &[]);
    config["providers"]["bedrock"] = json!({"base_url": upstream.url(), "models": [MODEL]});
    config["keys"] = json!([{"id": "br", "provider": "bedrock", "value": "ABSKsdk"}]);
    let gateway = GatewayProcess::start(&config);
    let summary = sdk(&gateway, "tools").await;
    assert_eq!(summary["call_id"], "tooluse_br_1");
    assert_eq!(summary["input"], json!({"city": "Paris"}));
    assert_eq!(summary["answer"], "18 C in Paris");
    let requests = upstream.requests();
    assert!(requests.iter().all(|r| r.api == Api::Bedrock));
    assert!(
        requests[0].path.ends_with("/converse-stream"),
        "the SDK's stream is a Converse stream"
    );
    assert_eq!(
        requests[1].body["messages"][2],
        json!({"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_br_1", "content": [{"text": "18 C"}]}}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_sdk_tool_loop_served_by_an_openai_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let call = llm_rotate::ToolCall::new("call_oa_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-a", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-a", Behavior::Reply("18 C in Paris".into()));
    let mut config = config(&upstream, &[("a", "openai")]);
    config["providers"]["openai"]["models"] = json!([MODEL]);
    let gateway = GatewayProcess::start(&config);
    let summary = sdk(&gateway, "tools").await;
    assert_eq!(summary["call_id"], "call_oa_1");
    assert_eq!(summary["name"], "weather");
    assert_eq!(summary["input"], json!({"city": "Paris"}));
    assert_eq!(summary["answer"], "18 C in Paris");
    let requests = upstream.requests();
    assert!(requests.iter().all(|r| r.api == Api::OpenAi));
    assert_eq!(
        requests[0].body["tools"][0],
        json!({"type": "function", "function": {"name": "weather", "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
    );
    // the second turn in OpenAI's form: the call on the assistant turn, the result as a tool message
    assert_eq!(
        requests[1].body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_oa_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_oa_1", "content": "18 C"}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_sdk_reads_the_gateways_errors() {
    let upstream = FakeUpstream::start().await.unwrap();
    for key in ["sk-test-a", "sk-test-b"] {
        upstream.set_default(key, Behavior::RateLimited(Some(Duration::from_secs(7))));
    }
    let mut config = config(&upstream, &[("a", "anthropic"), ("b", "anthropic")]);
    config["providers"]["anthropic"]["models"] = json!([MODEL]);
    let gateway = GatewayProcess::start(&config);
    let summary = sdk(&gateway, "errors").await;
    assert_eq!(summary["auth"], "authentication_error");
    assert_eq!(summary["limit"], "rate_limit_error");
    let wait: u64 = summary["retry_after"].as_str().unwrap().parse().unwrap();
    assert!((1..=7).contains(&wait), "Retry-After {wait}");
    assert!(
        summary["bad"].as_str().unwrap().contains("max_tokens"),
        "{summary}"
    );
    // the wrong token and the bad field never reached an upstream
    assert!(upstream.requests().len() <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_anthropic_entry_falls_back_to_an_openai_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default("sk-test-a", Behavior::Overloaded);
    upstream.set_default("sk-test-o", Behavior::Reply("hello from openai".into()));
    let mut config = config(&upstream, &[("a", "anthropic"), ("o", "openai")]);
    config["defaults"]["max_retries"] = json!(0);
    config["fallback_chains"] = json!({"sturdy": [
        {"provider": "anthropic", "upstream": MODEL},
        {"provider": "openai", "upstream": "gpt-4o"}
    ]});
    let gateway = GatewayProcess::start(&config);
    let summary = sdk(&gateway, "fallback").await;
    assert_eq!(summary["text"], "hello from openai");
    assert!(summary["output_tokens"].as_u64().unwrap() > 0);
    let requests = upstream.requests();
    assert_eq!(requests[0].api, Api::Anthropic);
    let served = requests.last().unwrap();
    assert_eq!(served.api, Api::OpenAi);
    // the translation: the system prompt as a system message, the model the chain's
    assert_eq!(served.body["model"], "gpt-4o");
    assert_eq!(
        served.body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}])
    );
}
