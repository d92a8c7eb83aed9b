//! The official OpenAI Python SDK against the gateway, in front of the fake upstream: a
//! plain and a streamed completion, an unknown model and a wrong token, tool loops (on
//! an OpenAI key, and on a chain falling from Claude on Vertex to Bedrock), fidelity,
//! embeddings and Responses. The SDK is installed from PyPI into a virtualenv under the
//! build directory on first run.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/python_sdks.rs"]
mod python_sdks;
#[path = "support/gateway_process.rs"]
mod support;

use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, TOKEN};

/// The summary `openai_sdk_check.py` prints for a scenario against `gateway`.
async fn openai_summary(gateway: &GatewayProcess, args: &[&str]) -> Value {
    let base_url = format!("{}/v1", gateway.url);
    let envs = [
        ("OPENAI_BASE_URL", base_url.as_str()),
        ("OPENAI_API_KEY", TOKEN),
    ];
    python_sdks::summary("openai_sdk_check.py", args, &envs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_works_against_the_gateway() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default(
        "sk-test-a",
        Behavior::Reply("hello from the fake upstream".into()),
    );
    upstream.set_default(
        "sk-test-b",
        Behavior::Reply("hello from the fake upstream".into()),
    );
    upstream.script("sk-test-a", [Behavior::ServerError(503)]);
    let mut config = config(&upstream, &[("a", "openai"), ("b", "openai")]);
    config["providers"]["openai"]["models"] = json!(["gpt-4o", "gpt-4o-mini"]);
    let gateway = GatewayProcess::start(&config);
    let summary = openai_summary(&gateway, &[]).await;
    assert_eq!(summary["plain"], "hello from the fake upstream");
    assert_eq!(summary["streamed"], "hello from the fake upstream");
    assert_eq!(summary["models"], json!(["gpt-4o", "gpt-4o-mini"]));
    let keys: Vec<String> = upstream.ids_called();
    assert_eq!(
        keys[..2],
        ["a", "b"],
        "the 503 on a was retried on b without the SDK noticing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_loop_through_the_gateway_with_the_official_openai_sdk() {
    let upstream = FakeUpstream::start().await.unwrap();
    let call = llm_rotate::ToolCall::new("call_sdk_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-a", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-a", Behavior::Reply("18 C in Paris".into()));
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    let summary = openai_summary(&gateway, &["tools"]).await;
    assert_eq!(summary["call_id"], "call_sdk_1");
    assert_eq!(summary["answer"], "18 C in Paris");
    // what the upstream received on the second turn: the SDK's history as it sent it
    // (an OpenAI key gets the body whole)
    let second = &upstream.requests()[1].body;
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "user", "content": "Weather in Paris?"})
    );
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["tool_calls"],
        json!([{"id": "call_sdk_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "call_sdk_1", "content": "18 C"})
    );
    assert_eq!(second["tools"][0]["function"]["name"], "weather");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_sdk_tool_loop_falls_from_claude_on_vertex_to_bedrock() {
    let upstream = FakeUpstream::start().await.unwrap();
    let account = "sdk@proj-7.iam.gserviceaccount.com";
    // Vertex is down for the whole loop; Bedrock serves both turns
    upstream.set_default(account, Behavior::ServerError(500));
    let call = llm_rotate::ToolCall::new("tooluse_sdk_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("ABSKopenai-sdk", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("ABSKopenai-sdk", Behavior::Reply("18 C in Paris".into()));
    let mut config = config(&upstream, &[]);
    config["defaults"]["max_retries"] = json!(0);
    config["providers"]["vertex_anthropic"] = json!({"base_url": upstream.base_url()});
    config["providers"]["bedrock"] = json!({"base_url": upstream.url()});
    config["keys"] = json!([
        {"id": "vx", "provider": "vertex_anthropic", "value": upstream.service_account_json(account, "proj-7"),
            "metadata": {"project_id": "proj-7"}},
        {"id": "br", "provider": "bedrock", "value": "ABSKopenai-sdk"}
    ]);
    // the SDK script asks for `gpt-4o`: a chain of that name takes it to Claude
    config["fallback_chains"] = json!({"gpt-4o": [
        {"provider": "vertex_anthropic", "upstream": "claude-sonnet-4@20250514"},
        {"provider": "bedrock", "upstream": "us.anthropic.claude-sonnet-4-20250514-v1:0"}
    ]});
    let gateway = GatewayProcess::start(&config);
    let summary = openai_summary(&gateway, &["tools"]).await;
    assert_eq!(summary["call_id"], "tooluse_sdk_1");
    assert_eq!(summary["answer"], "18 C in Paris");
    let vertex = upstream.requests_to(rotate_testkit::Api::VertexAnthropic);
    assert_eq!(vertex.len(), 2, "each turn tried Claude on Vertex first");
    assert_eq!(vertex[0].body["anthropic_version"], "vertex-2023-10-16");
    let bedrock = upstream.requests_to(rotate_testkit::Api::Bedrock);
    assert_eq!(bedrock.len(), 2);
    assert_eq!(
        bedrock[1].body["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_sdk_1", "name": "weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_sdk_1", "content": [{"text": "18 C"}]}}]}
        ])
    );
    assert_eq!(
        bedrock[1].body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "weather"
    );
}

/// A chat.completion with two choices and log probabilities, as OpenAI writes one.
fn two_choices() -> Value {
    let choice = |index: u32, text: &str| {
        json!({"index": index, "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
               "logprobs": {"content": [{"token": "One", "logprob": -0.01, "bytes": [79, 110, 101], "top_logprobs": [{"token": "One", "logprob": -0.01, "bytes": [79, 110, 101]}]}], "refusal": null},
               "finish_reason": "stop"})
    };
    json!({"id": "chatcmpl-two", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-2024-08-06",
           "choices": [choice(0, "One answer"), choice(1, "Another answer")],
           "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
           "system_fingerprint": "fp_testkit", "service_tier": "default"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_only_fields_reach_openai_keys_and_the_rest_crosses_to_anthropic() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.script(
        "sk-test-b",
        [
            Behavior::Body(two_choices()),
            Behavior::Reply("hello passthrough".into()),
            Behavior::Refusal("I can't help with that.".into()),
            Behavior::ContextLength,
            Behavior::Unauthorized,
        ],
    );
    let call = llm_rotate::ToolCall::new("toolu_sdk_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-a", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-a", Behavior::Reply("from anthropic".into()));
    let mut config = config(&upstream, &[("a", "anthropic"), ("b", "openai")]);
    config["fallback_chains"] = json!({
        "smart": [{"provider": "anthropic", "upstream": "claude-sonnet-4-5"}, {"provider": "openai", "upstream": "gpt-4o"}],
        "sturdy": [{"provider": "openai", "upstream": "gpt-4o"}, {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}]
    });
    let gateway = GatewayProcess::start(&config);
    let summary = openai_summary(&gateway, &["fidelity"]).await;
    // n: 2 and logprobs skipped the Anthropic entry of `smart` and came back whole
    assert_eq!(summary["n"], json!(["One answer", "Another answer"]));
    assert_eq!(summary["logprob_token"], "One");
    assert_eq!(summary["system_fingerprint"], "fp_testkit");
    assert_eq!(summary["service_tier"], "default");
    // the gateway asked for usage on the client's behalf and kept that chunk to itself
    assert_eq!(summary["streamed"], "hello passthrough");
    assert_eq!(summary["usage_chunks"], 0);
    assert_eq!(summary["refusal"], "I can't help with that.");
    assert_eq!(
        summary["error"],
        json!({"code": "context_length_exceeded", "param": "messages", "type": "invalid_request_error"})
    );
    // streamed tool calls from an Anthropic key, in OpenAI's delta form
    assert_eq!(
        summary["tool_calls"],
        json!([{"id": "toolu_sdk_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"}])
    );
    assert_eq!(summary["tool_finish"], "tool_calls");
    assert_eq!(summary["fallback"], "from anthropic");

    let requests = upstream.requests();
    let by = |key: &str| -> Vec<&rotate_testkit::RecordedRequest> {
        requests.iter().filter(|r| r.key == key).collect()
    };
    let openai = by("sk-test-b");
    assert_eq!(openai.len(), 5);
    assert_eq!(openai[0].body["n"], 2);
    assert_eq!(openai[0].body["logprobs"], true);
    assert_eq!(openai[0].body["top_logprobs"], 1);
    let streamed = &openai[1].body;
    assert_eq!(streamed["messages"][0]["role"], "developer");
    assert_eq!(streamed["max_completion_tokens"], 33);
    assert!(streamed.get("max_tokens").is_none());
    assert_eq!(streamed["stream_options"], json!({"include_usage": true}));
    let anthropic = by("sk-test-a");
    assert_eq!(anthropic.len(), 2, "n: 2 never went to the Anthropic key");
    let content = &anthropic[0].body["messages"][0]["content"];
    assert_eq!(content[1]["source"]["type"], "base64");
    assert_eq!(content[1]["source"]["media_type"], "image/png");
    assert_eq!(
        content[2]["source"],
        json!({"type": "url", "url": "https://example.com/paris.jpg"})
    );
    assert_eq!(anthropic[0].body["tools"][0]["name"], "weather");
    assert_eq!(anthropic[0].body["tool_choice"], json!({"type": "auto"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_through_the_gateway_from_openai_and_gemini_keys() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[("a", "openai"), ("g", "google")]);
    config["providers"]["openai"]["models"] = json!(["text-embedding-3-small"]);
    config["providers"]["google"]["models"] = json!(["gemini-embedding-001"]);
    let gateway = GatewayProcess::start(&config);
    let summary = openai_summary(&gateway, &["embeddings"]).await;
    let expected: Vec<Vec<f32>> = ["a cat", "a much longer dog"]
        .iter()
        .map(|t| rotate_testkit::upstream::vector_of(t, Some(5)))
        .collect();
    for model in ["text-embedding-3-small", "gemini-embedding-001"] {
        assert_eq!(summary[model]["vectors"], json!(expected), "{model}");
    }
    assert!(
        summary["text-embedding-3-small"]["prompt_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let requests = upstream.requests();
    // the OpenAI key got the SDK's body whole (its base64 default included)
    assert_eq!(requests[0].body["encoding_format"], "base64");
    assert_eq!(requests[0].body["dimensions"], 5);
    assert!(requests[1]
        .path
        .ends_with("gemini-embedding-001:batchEmbedContents"));
    assert_eq!(requests[1].body["requests"][0]["outputDimensionality"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responses_api_passes_through_to_openai_and_is_translated_for_anthropic() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default("sk-test-o", Behavior::Reply("hello from responses".into()));
    let call = llm_rotate::ToolCall::new("toolu_r1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-a", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-a", Behavior::Reply("18 C in Paris".into()));
    let mut config = config(&upstream, &[("o", "openai"), ("a", "anthropic")]);
    config["fallback_chains"] = json!({"smart": [
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"},
        {"provider": "openai", "upstream": "gpt-4o"}
    ]});
    let gateway = GatewayProcess::start(&config);
    let summary = openai_summary(&gateway, &["responses"]).await;
    // passed through: OpenAI's own response object and events
    assert_eq!(summary["plain"]["text"], "hello from responses");
    assert!(summary["plain"]["id"]
        .as_str()
        .unwrap()
        .starts_with("resp_testkit"));
    assert!(summary["plain"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(summary["streamed"]["text"], "hello from responses");
    assert_eq!(summary["streamed"]["final"], "hello from responses");
    assert_eq!(summary["streamed"]["first"], "response.created");
    assert_eq!(summary["streamed"]["last"], "response.completed");
    // translated for an Anthropic key, both ways
    assert_eq!(
        summary["translated"]["call"],
        json!({"call_id": "toolu_r1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert_eq!(summary["translated"]["answer"], "18 C in Paris");
    assert_eq!(summary["translated"]["streamed"], "18 C in Paris");
    assert_eq!(summary["translated"]["completed_text"], "18 C in Paris");
    let events = summary["translated"]["events"].as_array().unwrap();
    assert_eq!(events[0], "response.created");
    assert_eq!(events.last().unwrap(), "response.completed");
    // previous_response_id skipped the Anthropic entry of `smart`
    assert_eq!(summary["kept"], "hello from responses");

    let requests = upstream.requests();
    let openai: Vec<_> = requests.iter().filter(|r| r.key == "sk-test-o").collect();
    assert_eq!(openai.len(), 3);
    assert!(openai.iter().all(|r| r.path.ends_with("/responses")));
    assert_eq!(openai[0].body["instructions"], "Be brief.");
    assert_eq!(openai[0].body["store"], false);
    assert_eq!(
        openai[2].body["previous_response_id"],
        summary["plain"]["id"]
    );
    let anthropic: Vec<_> = requests.iter().filter(|r| r.key == "sk-test-a").collect();
    assert_eq!(anthropic.len(), 3);
    assert_eq!(anthropic[0].body["tools"][0]["name"], "weather");
    assert_eq!(
        anthropic[1].body["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "toolu_r1", "name": "weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        anthropic[1].body["messages"][2]["content"][0]["tool_use_id"],
        "toolu_r1"
    );
}
