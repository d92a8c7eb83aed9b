//! The OpenAI adapter against the fake upstream: exact requests, replies, streams, errors.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rotate_core::config::{DefaultsConfig, ProviderConfig};
use rotate_core::message::ChatMessage;
use rotate_core::provider::{AdapterFactory, ChatRequest, Provider};
use rotate_core::{ErrorKind, Usage};
use rotate_providers::HttpAdapterFactory;
use rotate_testkit::{provider_call, Behavior, FakeUpstream};
use serde_json::json;

fn adapter(
    name: &str,
    upstream: &FakeUpstream,
    tweak: impl FnOnce(&mut ProviderConfig),
) -> Arc<dyn Provider> {
    let mut config = rotate_core::catalogue::builtin(name).map_or_else(
        || ProviderConfig {
            api: Some(rotate_core::WireApi::Openai),
            ..ProviderConfig::default()
        },
        rotate_core::config::ProviderConfig::from,
    );
    config.base_url = Some(upstream.base_url());
    tweak(&mut config);
    let defaults = DefaultsConfig {
        stream_idle_timeout_seconds: 1,
        ..DefaultsConfig::default()
    };
    HttpAdapterFactory::default()
        .adapter(name, &config, &defaults)
        .unwrap()
}

fn request() -> ChatRequest {
    let mut extra = serde_json::Map::new();
    extra.insert("top_p".into(), json!(0.5));
    extra.insert("stop".into(), json!(["\n\n"]));
    ChatRequest {
        messages: vec![
            ChatMessage::system("be brief"),
            ChatMessage::user("hello there"),
        ],
        max_tokens: Some(64),
        temperature: Some(0.7),
        extra,
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn sends_the_documented_request_and_parses_the_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    let openai = adapter("openai", &upstream, |_| {});
    let call = provider_call(
        "openai",
        "gpt-4o-mini",
        "sk-test-key-a",
        request(),
        &[("organization", "org-1"), ("project", "proj-1")],
    );
    let reply = openai.chat(call).await.unwrap();
    assert_eq!(reply.content, "ok from sk-test-key-a");
    assert_eq!(reply.model, "gpt-4o-mini");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 7,
            completion_tokens: 3,
            total_tokens: 10,
            ..Usage::default()
        }
    );
    let headroom = reply.headroom.unwrap();
    assert_eq!(headroom.remaining_requests, Some(9_999));
    assert_eq!(headroom.reset_requests, Some(Duration::from_millis(6)));

    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-key-a"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("openai-organization"), Some("org-1"));
    assert_eq!(sent.header("openai-project"), Some("proj-1"));
    let body = &sent.body;
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
    );
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["top_p"], 0.5);
    assert_eq!(body["stop"], json!(["\n\n"]));
    assert!(body.get("stream").is_none());
    assert_eq!(body.as_object().unwrap().len(), 6);
}

#[tokio::test]
async fn reasoning_models_get_max_completion_tokens_and_extra_wins() {
    let upstream = FakeUpstream::start().await.unwrap();
    let openai = adapter("openai", &upstream, |_| {});
    let mut req = request();
    req.extra.insert("temperature".into(), json!(1.0));
    openai
        .chat(provider_call("openai", "o3-mini", "k1", req, &[]))
        .await
        .unwrap();
    let body = &upstream.requests()[0].body;
    assert_eq!(body["max_completion_tokens"], 64);
    assert!(body.get("max_tokens").is_none());
    assert_eq!(
        body["temperature"], 1.0,
        "extra is merged after the typed fields"
    );
    // a compatible vendor keeps max_tokens for any model name
    let groq = adapter("groq", &upstream, |_| {});
    groq.chat(provider_call("groq", "o3-like", "k2", request(), &[]))
        .await
        .unwrap();
    assert_eq!(upstream.requests()[1].body["max_tokens"], 64);
}

#[tokio::test]
async fn azure_uses_deployments_api_version_and_api_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let azure = adapter("azure_openai", &upstream, |c| {
        c.api_version = Some("2024-10-21".into())
    });
    let call = provider_call(
        "azure_openai",
        "gpt-4o",
        "azure-key-1",
        request(),
        &[("deployment", "prod-4o")],
    );
    let reply = azure.chat(call).await.unwrap();
    assert_eq!(reply.content, "ok from azure-key-1");
    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/openai/deployments/prod-4o/chat/completions");
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(sent.header("api-key"), Some("azure-key-1"));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn streams_deltas_usage_and_finish_reason() {
    let upstream = FakeUpstream::start().await.unwrap();
    let openai = adapter("openai", &upstream, |_| {});
    let start = openai
        .chat_stream(provider_call("openai", "gpt-4o", "key-s", request(), &[]))
        .await
        .unwrap();
    assert!(start.headroom.is_some());
    let deltas: Vec<_> = start.events.collect().await;
    let text: String = deltas
        .iter()
        .map(|d| d.as_ref().unwrap().delta.clone())
        .collect();
    assert_eq!(text, "ok from key-s");
    let last = deltas.last().unwrap().as_ref().unwrap();
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    assert_eq!(last.usage.map(|u| u.total_tokens), Some(10));
    let body = &upstream.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    // a vendor flagged without stream usage is not sent stream_options
    let mistral = adapter("mistral", &upstream, |_| {});
    let start = mistral
        .chat_stream(provider_call("mistral", "m", "key-m", request(), &[]))
        .await
        .unwrap();
    let _: Vec<_> = start.events.collect().await;
    assert!(upstream.requests()[1].body.get("stream_options").is_none());
}

#[tokio::test]
async fn broken_streams_are_errors_never_clean_ends() {
    let upstream = FakeUpstream::start().await.unwrap();
    let openai = adapter("openai", &upstream, |_| {});
    let cases = [
        (Behavior::EndWithoutTerminal(2), ErrorKind::Decode),
        (Behavior::CutAfter(1), ErrorKind::Network),
        (Behavior::MidStreamError(2), ErrorKind::ServerError),
        (Behavior::StallAfter(1), ErrorKind::Timeout),
        (Behavior::MalformedJson, ErrorKind::Decode),
    ];
    for (behavior, kind) in cases {
        upstream.script("key-b", [behavior.clone()]);
        let start = openai
            .chat_stream(provider_call("openai", "gpt-4o", "key-b", request(), &[]))
            .await
            .unwrap_or_else(|e| panic!("{behavior:?}: {e}"));
        let items: Vec<_> = start.events.collect().await;
        let last = items.last().unwrap();
        let error = last
            .as_ref()
            .expect_err(&format!("{behavior:?} must end in an error"));
        assert_eq!(error.kind, kind, "{behavior:?}");
        assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    }
}

#[tokio::test]
async fn errors_are_classified_with_their_waits() {
    let upstream = FakeUpstream::start().await.unwrap();
    let openai = adapter("openai", &upstream, |_| {});
    let cases = [
        (
            Behavior::RateLimited(Some(Duration::from_millis(1500))),
            ErrorKind::RateLimited,
            429,
            Some(Duration::from_millis(1500)),
        ),
        (
            Behavior::RateLimited(Some(Duration::from_secs(7))),
            ErrorKind::RateLimited,
            429,
            Some(Duration::from_secs(7)),
        ),
        (
            Behavior::QuotaExhausted,
            ErrorKind::QuotaExhausted,
            429,
            None,
        ),
        (Behavior::Unauthorized, ErrorKind::Auth, 401, None),
        (Behavior::BadRequest, ErrorKind::InvalidRequest, 400, None),
        (Behavior::ContextLength, ErrorKind::ContextLength, 400, None),
        (
            Behavior::ServerError(500),
            ErrorKind::ServerError,
            500,
            None,
        ),
        (
            Behavior::ServerError(502),
            ErrorKind::ServerError,
            502,
            None,
        ),
        (Behavior::Overloaded, ErrorKind::Overloaded, 503, None),
        (Behavior::MalformedJson, ErrorKind::Decode, 0, None),
    ];
    for (behavior, kind, status, wait) in cases {
        upstream.script("sk-test-classify-0123456789", [behavior.clone()]);
        let err = openai
            .chat(provider_call(
                "openai",
                "gpt-4o",
                "sk-test-classify-0123456789",
                request(),
                &[],
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{behavior:?}: {err}");
        if status != 0 {
            assert_eq!(err.status, Some(status), "{behavior:?}");
        }
        if wait.is_some() {
            assert_eq!(err.retry_after, wait, "{behavior:?}");
        }
        assert!(
            !err.message.contains("sk-test-classify-0123456789"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn unreachable_and_slow_upstreams() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = ProviderConfig {
        api: Some(rotate_core::WireApi::Openai),
        base_url: Some("http://127.0.0.1:1/v1".into()),
        ..ProviderConfig::default()
    };
    let dead = HttpAdapterFactory::default()
        .adapter("dead", &config, &DefaultsConfig::default())
        .unwrap();
    let err = dead
        .chat(provider_call("dead", "m", "k", request(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network);
    config.base_url = Some(upstream.base_url());
    config.timeout_seconds = Some(1);
    let slow = HttpAdapterFactory::default()
        .adapter("slow", &config, &DefaultsConfig::default())
        .unwrap();
    upstream.script(
        "k",
        [Behavior::Latency(
            Duration::from_secs(3),
            Box::new(Behavior::Ok),
        )],
    );
    let err = slow
        .chat(provider_call("slow", "m", "k", request(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
}
