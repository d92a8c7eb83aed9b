//! Prompt-cache affinity through the gateway: Claude Code's and Codex's session headers,
//! a configured header, `prompt_cache_key`, `metadata.user_id`, and a Responses
//! `previous_response_id` pinned to the key that made that response (plain and
//! streamed); hits and misses in `/metrics`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use http::{Method, StatusCode};
use rotate_testkit::FakeUpstream;
use serde_json::{json, Value};
use support::{config, GatewayClient, GatewayProcess, TOKEN};

/// POSTs `body` to `path` with `headers`; gives the key that served and the JSON answer.
async fn served_by(
    client: &GatewayClient,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (String, Value) {
    let (status, answer_headers, bytes) = client
        .send_with(Method::POST, path, Some(TOKEN), headers, body.to_string())
        .await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(status, StatusCode::OK, "{text}");
    let key = answer_headers
        .get("x-llm-rotate-key-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        key,
        serde_json::from_slice(&bytes).unwrap_or(Value::String(text)),
    )
}

fn chat() -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
}

fn message() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn session_headers_and_body_fields_keep_a_conversation_on_its_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let keys = [
        ("o1", "openai"),
        ("o2", "openai"),
        ("o3", "openai"),
        ("a1", "anthropic"),
        ("a2", "anthropic"),
    ];
    let gateway = GatewayProcess::start(&config(&upstream, &keys));
    let client: &GatewayClient = &gateway;
    let path = "/v1/chat/completions";
    // without affinity, round-robin moves on every call
    let (first, _) = served_by(client, path, &[], &chat()).await;
    let (second, _) = served_by(client, path, &[], &chat()).await;
    assert_ne!(first, second);

    // Codex's session header
    let codex = [("session_id", "codex-session-1")];
    let (pinned, _) = served_by(client, path, &codex, &chat()).await;
    for _ in 0..3 {
        served_by(client, path, &[], &chat()).await;
        assert_eq!(served_by(client, path, &codex, &chat()).await.0, pinned);
    }

    // OpenAI's prompt_cache_key in the body
    let mut cached = chat();
    cached["prompt_cache_key"] = json!("cache-7");
    let (pinned, _) = served_by(client, path, &[], &cached).await;
    for _ in 0..3 {
        served_by(client, path, &[], &chat()).await;
        assert_eq!(served_by(client, path, &[], &cached).await.0, pinned);
    }

    // Claude Code: its session header, and metadata.user_id without it
    let claude = [("x-claude-code-session-id", "9f1c-session")];
    let (pinned, _) = served_by(client, "/v1/messages", &claude, &message()).await;
    assert!(pinned.starts_with('a'), "{pinned}");
    for _ in 0..3 {
        served_by(client, "/v1/messages", &[], &message()).await;
        assert_eq!(
            served_by(client, "/v1/messages", &claude, &message())
                .await
                .0,
            pinned
        );
    }
    let mut with_user = message();
    with_user["metadata"] = json!({"user_id": "user_abc_account__session_42"});
    let (pinned, _) = served_by(client, "/v1/messages", &[], &with_user).await;
    for _ in 0..3 {
        served_by(client, "/v1/messages", &[], &message()).await;
        assert_eq!(
            served_by(client, "/v1/messages", &[], &with_user).await.0,
            pinned
        );
    }
    // the metadata still reaches Anthropic whole
    let last = upstream.requests().pop().unwrap();
    assert_eq!(
        last.body["metadata"]["user_id"],
        "user_abc_account__session_42"
    );

    let (_, _, metrics) = client.send(Method::GET, "/metrics", Some(TOKEN), "").await;
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    assert!(
        metrics.contains("llm_rotate_affinity_total{result=\"hit\"} 12"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llm_rotate_affinity_total{result=\"miss\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llm_rotate_affinity_entries 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_configured_affinity_header_replaces_the_session_headers() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[("o1", "openai"), ("o2", "openai")]);
    config["gateway"]["affinity_header"] = json!("x-tenant");
    let gateway = GatewayProcess::start(&config);
    let client: &GatewayClient = &gateway;
    let path = "/v1/chat/completions";
    let tenant = [("x-tenant", "acme")];
    let (pinned, _) = served_by(client, path, &tenant, &chat()).await;
    assert_eq!(served_by(client, path, &tenant, &chat()).await.0, pinned);
    assert_eq!(served_by(client, path, &tenant, &chat()).await.0, pinned);
    // Codex's header is no longer read: round-robin alternates
    let codex = [("session_id", "s")];
    let (a, _) = served_by(client, path, &codex, &chat()).await;
    let (b, _) = served_by(client, path, &codex, &chat()).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn previous_response_id_goes_back_to_the_key_that_made_the_response() {
    let upstream = FakeUpstream::start().await.unwrap();
    let keys = [("o1", "openai"), ("o2", "openai"), ("o3", "openai")];
    let gateway = GatewayProcess::start(&config(&upstream, &keys));
    let client: &GatewayClient = &gateway;
    let create = |extra: Value| {
        let mut body = json!({"model": "gpt-4o", "input": "hello"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (maker, made) = served_by(client, "/v1/responses", &[], &create(json!({}))).await;
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_testkit"), "{made}");
    // other traffic moves the round-robin cursor; a session header does not move the pin
    served_by(client, "/v1/chat/completions", &[], &chat()).await;
    let next = create(json!({"previous_response_id": id, "input": "go on"}));
    let session = [("session_id", "other-session")];
    assert_eq!(
        served_by(client, "/v1/responses", &session, &next).await.0,
        maker
    );
    assert_eq!(
        served_by(client, "/v1/responses", &[], &next).await.0,
        maker
    );

    // streamed: the id comes from the upstream's response.created event
    let (_, _, events) = client
        .send(
            Method::POST,
            "/v1/responses",
            Some(TOKEN),
            create(json!({"stream": true})).to_string(),
        )
        .await;
    let events = String::from_utf8(events.to_vec()).unwrap();
    let created: Value = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|e| e["type"] == "response.created")
        .unwrap();
    let streamed_id = created["response"]["id"].as_str().unwrap().to_owned();
    let streamer = upstream.requests().pop().unwrap().key;
    served_by(client, "/v1/chat/completions", &[], &chat()).await;
    served_by(client, "/v1/chat/completions", &[], &chat()).await;
    let next = create(json!({"previous_response_id": streamed_id, "input": "go on"}));
    served_by(client, "/v1/responses", &[], &next).await;
    assert_eq!(upstream.requests().pop().unwrap().key, streamer);
}
