//! Claude on Vertex AI and Azure's v1 API end to end against the fake upstream, and one
//! conversation falling from Anthropic to Claude on Vertex to Claude on Bedrock: the
//! rawPredict paths and body (no `model`, `anthropic_version`), a service account's
//! token fetched once and renewed after a 401, projects rotated as quota groups; the
//! `/openai/v1` base with `api-key` and Entra bearer keys, and Entra service principals
//! whose token is fetched once for concurrent calls and renewed after a 401.
#![cfg(all(feature = "google", feature = "bedrock"))]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{
    ChatMessage, ChatOptions, KeyState, LMRotate, LMRotateConfig, ToolCall, ToolSpec,
};
use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::json;

const CLAUDE: &str = "claude-sonnet-4@20250514";

fn claude_key(
    upstream: &FakeUpstream,
    id: &str,
    account: &str,
    project: &str,
) -> serde_json::Value {
    json!({"id": id, "provider": "vertex_anthropic", "value": upstream.service_account_json(account, project),
        "metadata": {"location": "us-east5", "project_id": project}})
}

fn client(config: serde_json::Value) -> LMRotate {
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

fn vertex_config(upstream: &FakeUpstream, keys: serde_json::Value) -> serde_json::Value {
    let mut config = upstream.config(
        &[],
        json!({"selection_strategy": "round_robin", "max_retries": 1}),
    );
    config["providers"]["vertex_anthropic"] =
        json!({"base_url": upstream.base_url(), "models": [CLAUDE]});
    config["keys"] = keys;
    config
}

#[tokio::test]
async fn claude_on_vertex_speaks_raw_predict_with_service_account_tokens() {
    let upstream = FakeUpstream::start().await.unwrap();
    let keys = json!([
        claude_key(
            &upstream,
            "p1",
            "claude@proj-1.iam.gserviceaccount.com",
            "proj-1"
        ),
        claude_key(
            &upstream,
            "p2",
            "claude@proj-2.iam.gserviceaccount.com",
            "proj-2"
        )
    ]);
    let client = client(vertex_config(&upstream, keys));
    let options = ChatOptions::default()
        .max_tokens(100)
        .reasoning_budget_tokens(512);
    let mut served = Vec::new();
    for _ in 0..2 {
        let reply = client
            .chat(
                CLAUDE,
                &[ChatMessage::system("terse"), ChatMessage::user("hi")],
                options.clone(),
            )
            .await
            .unwrap();
        assert_eq!(reply.provider, "vertex_anthropic");
        let thought = reply.reasoning[0].as_reasoning().unwrap();
        assert_eq!(
            (thought.signature.as_deref(), thought.provider.as_str()),
            (Some("sig_testkit"), "vertex_anthropic")
        );
        served.push(reply.content);
    }
    served.sort();
    assert_eq!(
        served,
        [
            "ok from claude@proj-1.iam.gserviceaccount.com",
            "ok from claude@proj-2.iam.gserviceaccount.com"
        ]
    );
    let sent = upstream.requests_to(Api::VertexAnthropic);
    let first = sent.iter().find(|r| r.path.contains("proj-1")).unwrap();
    assert_eq!(first.path, "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict");
    assert_eq!(
        first.body,
        json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 100, "system": "terse",
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 512}})
    );
    assert!(first
        .header("authorization")
        .unwrap()
        .starts_with("Bearer "));
    assert!(first.header("x-api-key").is_none());

    // streamed, on the same cached tokens
    let streamed = client
        .chat_stream(CLAUDE, &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    let reply = streamed.collect_response().await.unwrap();
    assert!(
        reply.content.starts_with("ok from claude@"),
        "{}",
        reply.content
    );
    let last = upstream.requests_to(Api::VertexAnthropic).pop().unwrap();
    assert!(last.path.ends_with(":streamRawPredict"), "{}", last.path);
    assert_eq!(last.body["stream"], true);
    assert_eq!(
        upstream.requests_to(Api::Token).len(),
        2,
        "one token per account"
    );

    // a revoked token is renewed once, and the key is not blamed
    upstream.revoke_tokens();
    let reply = client
        .chat(
            CLAUDE,
            &[ChatMessage::user("again")],
            ChatOptions::default(),
        )
        .await
        .unwrap();
    assert!(reply.content.starts_with("ok from claude@"));
    assert_eq!(upstream.requests_to(Api::Token).len(), 3);
    for key in client.health().await.keys {
        assert_eq!(key.state, KeyState::Healthy, "{}", key.key_id);
        assert_eq!(
            key.quota_group.as_deref(),
            Some(if key.key_id == "p1" {
                "proj-1"
            } else {
                "proj-2"
            })
        );
    }
}

#[tokio::test]
async fn one_conversation_falls_from_anthropic_to_vertex_to_bedrock() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = vertex_config(
        &upstream,
        json!([
            {"id": "an", "provider": "anthropic", "value": "sk-test-an"},
            claude_key(&upstream, "vx", "claude@proj-1.iam.gserviceaccount.com", "proj-1"),
            {"id": "br", "provider": "bedrock", "value": "ABSKbedrock"}
        ]),
    );
    config["defaults"]["max_retries"] = json!(0);
    config["providers"]["bedrock"] = json!({"base_url": upstream.url()});
    config["fallback_chains"] = json!({"claude": [
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"},
        {"provider": "vertex_anthropic", "upstream": CLAUDE},
        {"provider": "bedrock", "upstream": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    ]});
    let client = client(config);
    let weather = ToolSpec::new(
        "weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    );
    let call = ToolCall::new("toolu_9", "weather", r#"{"city":"Oslo"}"#);
    upstream.script(
        "sk-test-an",
        [
            Behavior::ToolCalls(vec![call.clone()]),
            Behavior::Overloaded,
        ],
    );
    upstream.script(
        "claude@proj-1.iam.gserviceaccount.com",
        [Behavior::ServerError(500)],
    );
    let options = ChatOptions::default().tool(weather);
    let mut history = vec![ChatMessage::user("Weather in Oslo?")];
    let first = client
        .chat("claude", &history, options.clone())
        .await
        .unwrap();
    assert_eq!(
        (first.provider.as_str(), first.tool_calls.as_slice()),
        ("anthropic", std::slice::from_ref(&call))
    );
    history.push(first.message());
    history.push(ChatMessage::tool_result("toolu_9", "-3 C"));
    let second = client.chat("claude", &history, options).await.unwrap();
    assert_eq!(second.provider, "bedrock");
    assert_eq!(second.content, "ok from ABSKbedrock");
    let vertex = upstream.requests_to(Api::VertexAnthropic);
    assert_eq!(
        vertex[0].body["messages"][1],
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo"}}]})
    );
    let bedrock = upstream.requests_to(Api::Bedrock);
    assert_eq!(
        bedrock[0].body["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Oslo?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "toolu_9", "name": "weather", "input": {"city": "Oslo"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "toolu_9", "content": [{"text": "-3 C"}]}}]}
        ])
    );
}

#[tokio::test]
async fn azure_v1_takes_api_keys_and_entra_tokens_on_openai_paths() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(&[], json!({"selection_strategy": "round_robin"}));
    config["providers"]["azure_openai"] =
        json!({"base_url": format!("{}/openai/v1", upstream.url()), "models": ["gpt-4o-deploy"]});
    config["keys"] = json!([
        {"id": "key", "provider": "azure_openai", "value": "azure-api-key"},
        {"id": "entra", "provider": "azure_openai", "value": "eyJ0eXAiOiJKV1QiLCJhbGciOi", "metadata": {"auth": "entra"}}
    ]);
    let client = client(config);
    for _ in 0..2 {
        client
            .chat(
                "gpt-4o-deploy",
                &[ChatMessage::user("hi")],
                ChatOptions::default(),
            )
            .await
            .unwrap();
    }
    let sent = upstream.requests_to(Api::OpenAi);
    for request in &sent {
        assert_eq!(request.path, "/openai/v1/chat/completions");
        assert_eq!(request.query, None, "no api-version on the v1 API");
        assert_eq!(request.body["model"], "gpt-4o-deploy");
    }
    let by_key = |key: &str| sent.iter().find(|r| r.key == key).unwrap();
    assert_eq!(
        by_key("azure-api-key").header("api-key"),
        Some("azure-api-key")
    );
    assert!(by_key("azure-api-key").header("authorization").is_none());
    assert_eq!(
        by_key("eyJ0eXAiOiJKV1QiLCJhbGciOi").header("authorization"),
        Some("Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi")
    );
    assert!(by_key("eyJ0eXAiOiJKV1QiLCJhbGciOi")
        .header("api-key")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_service_principals_fetch_share_and_renew_their_tokens() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(&[], json!({"selection_strategy": "round_robin"}));
    config["providers"]["azure_openai"] =
        json!({"base_url": format!("{}/openai/v1", upstream.url()), "models": ["gpt-4o-prod"]});
    let principal = |id: &str, value: String| {
        json!({"id": id, "provider": "azure_openai", "value": value,
            "metadata": {"auth": "entra", "authority": upstream.url()}})
    };
    let mut wrong: serde_json::Value = serde_json::from_str(
        &rotate_testkit::upstream::entra_principal_json("tenant-1", "app-2"),
    )
    .unwrap();
    wrong["client_secret"] = json!("a-wrong-secret");
    config["keys"] = json!([
        principal(
            "sp",
            rotate_testkit::upstream::entra_principal_json("tenant-1", "app-1")
        ),
        principal("wrong", wrong.to_string())
    ]);
    let client = client(config);
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .chat(
                        "gpt-4o-prod",
                        &[ChatMessage::user(format!("call {i}"))],
                        ChatOptions::default(),
                    )
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().content, "ok from app-1");
    }
    let tokens = |upstream: &FakeUpstream| {
        upstream
            .requests_to(Api::EntraToken)
            .iter()
            .filter(|r| r.key == "app-1")
            .count()
    };
    assert_eq!(tokens(&upstream), 1, "one token shared by every call");
    let sent = upstream.requests_to(Api::OpenAi);
    assert!(sent.iter().all(|r| r
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer eyJ0eXAi"))));
    assert!(sent.iter().all(|r| r.header("api-key").is_none()));
    let token_request = &upstream.requests_to(Api::EntraToken)[0];
    assert_eq!(token_request.path, "/tenant-1/oauth2/v2.0/token");

    upstream.revoke_tokens();
    let reply = client
        .chat(
            "gpt-4o-prod",
            &[ChatMessage::user("again")],
            ChatOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(reply.content, "ok from app-1");
    assert_eq!(
        tokens(&upstream),
        2,
        "a refused token is fetched again once"
    );
    let health = client.health().await;
    let state = |id: &str| health.keys.iter().find(|k| k.key_id == id).unwrap().clone();
    assert_eq!(
        state("sp").state,
        KeyState::Healthy,
        "a stale token is not a bad key"
    );
    assert_eq!(state("wrong").state, KeyState::Quarantined);
    let said = state("wrong").last_error.unwrap();
    assert!(said.contains("AADSTS7000215"), "{said}");
    assert!(!said.contains("a-wrong-secret"), "{said}");
}
