//! The official OpenAI Python SDK against the gateway, in front of the fake upstream: a
//! plain and a streamed completion, an unknown model and a wrong token. The SDK is
//! installed from PyPI into a virtualenv under the build directory on first run.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/python_sdks.rs"]
mod python_sdks;
#[path = "support/gateway_process.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use python_sdks::sdk_python;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_works_against_the_gateway() {
    let python = tokio::task::spawn_blocking(sdk_python).await.unwrap();
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk_check.py");
    let base_url = format!("{}/v1", gateway.url);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
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
    let python = tokio::task::spawn_blocking(sdk_python).await.unwrap();
    let upstream = FakeUpstream::start().await.unwrap();
    let call = llm_rotate::ToolCall::new("call_sdk_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-a", [Behavior::ToolCalls(vec![call])]);
    upstream.set_default("sk-test-a", Behavior::Reply("18 C in Paris".into()));
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk_check.py");
    let base_url = format!("{}/v1", gateway.url);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg("tools")
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
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
