//! The Anthropic adapter against the fake upstream: exact requests, replies, streams, errors.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rotate_core::config::{DefaultsConfig, ProviderConfig};
use rotate_core::message::ChatMessage;
use rotate_core::provider::{AdapterFactory, ChatRequest, Provider};
use rotate_core::ErrorKind;
use rotate_providers::HttpAdapterFactory;
use rotate_testkit::{provider_call, Behavior, FakeUpstream};
use serde_json::json;

fn adapter(upstream: &FakeUpstream, tweak: impl FnOnce(&mut ProviderConfig)) -> Arc<dyn Provider> {
    let mut config = rotate_core::config::ProviderConfig::from(
        rotate_core::catalogue::builtin("anthropic").unwrap(),
    );
    config.base_url = Some(upstream.base_url());
    tweak(&mut config);
    let defaults = DefaultsConfig {
        stream_idle_timeout_seconds: 1,
        ..DefaultsConfig::default()
    };
    HttpAdapterFactory::default()
        .adapter("anthropic", &config, &defaults)
        .unwrap()
}

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("be brief"),
        ChatMessage::user("first"),
        ChatMessage::user("second"),
        ChatMessage::assistant("an answer"),
        ChatMessage::system("and polite"),
        ChatMessage::user("third"),
    ]
}

#[tokio::test]
async fn system_goes_on_top_turns_merge_and_max_tokens_defaults() {
    let upstream = FakeUpstream::start().await.unwrap();
    let claude = adapter(&upstream, |_| {});
    let request = ChatRequest {
        messages: conversation(),
        max_tokens: None,
        temperature: Some(0.2),
        extra: Default::default(),
        ..ChatRequest::default()
    };
    let reply = claude
        .chat(provider_call(
            "anthropic",
            "claude-sonnet-4-5",
            "sk-ant-test-1",
            request,
            &[("anthropic_beta", "prompt-caching-2024-07-31")],
        ))
        .await
        .unwrap();
    assert_eq!(reply.content, "ok from sk-ant-test-1");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(reply.model, "claude-sonnet-4-5");
    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test-1"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["system"], "be brief\n\nand polite");
    assert_eq!(sent.body["max_tokens"], 4096);
    assert_eq!(sent.body["temperature"], 0.2);
    assert_eq!(
        sent.body["messages"],
        json!([
            {"role": "user", "content": "first\n\nsecond"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "third"}
        ])
    );
    // 47 characters of text (system included) / 4, rounded up, plus one per message
    assert_eq!(reply.usage.prompt_tokens, 15);
}

#[tokio::test]
async fn thinking_blocks_are_not_content_but_count_as_output() {
    let upstream = FakeUpstream::start().await.unwrap();
    let claude = adapter(&upstream, |c| c.default_max_tokens = Some(2048));
    let mut extra = serde_json::Map::new();
    extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 1024}),
    );
    let request = ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        max_tokens: None,
        temperature: None,
        extra,
        ..ChatRequest::default()
    };
    let reply = claude
        .chat(provider_call(
            "anthropic",
            "claude-x",
            "k",
            request.clone(),
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(reply.content, "ok from k");
    assert_eq!(reply.usage.completion_tokens, 3 + 7);
    assert_eq!(upstream.requests()[0].body["max_tokens"], 2048);
    assert_eq!(
        upstream.requests()[0].body["thinking"]["budget_tokens"],
        1024
    );
    let start = claude
        .chat_stream(provider_call("anthropic", "claude-x", "k", request, &[]))
        .await
        .unwrap();
    let deltas: Vec<_> = start.events.collect().await;
    let text: String = deltas
        .iter()
        .map(|d| d.as_ref().unwrap().delta.clone())
        .collect();
    assert_eq!(text, "ok from k");
    let last = deltas.last().unwrap().as_ref().unwrap();
    assert_eq!(last.usage.map(|u| u.completion_tokens), Some(10));
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn a_conversation_must_start_with_the_user() {
    let upstream = FakeUpstream::start().await.unwrap();
    let claude = adapter(&upstream, |_| {});
    let request = ChatRequest {
        messages: vec![ChatMessage::assistant("hello")],
        ..ChatRequest::default()
    };
    let err = claude
        .chat(provider_call("anthropic", "c", "k", request, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        upstream.requests().is_empty(),
        "refused before any network call"
    );
}

#[tokio::test]
async fn errors_and_broken_streams_are_classified() {
    let upstream = FakeUpstream::start().await.unwrap();
    let claude = adapter(&upstream, |_| {});
    let request = || ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    };
    let cases = [
        (
            Behavior::RateLimited(Some(Duration::from_secs(3))),
            ErrorKind::RateLimited,
            Some(Duration::from_secs(3)),
        ),
        (Behavior::QuotaExhausted, ErrorKind::QuotaExhausted, None),
        (Behavior::Unauthorized, ErrorKind::Auth, None),
        (Behavior::BadRequest, ErrorKind::InvalidRequest, None),
        (Behavior::ContextLength, ErrorKind::ContextLength, None),
        (Behavior::ServerError(500), ErrorKind::ServerError, None),
        (Behavior::ServerError(504), ErrorKind::Timeout, None),
        (Behavior::Overloaded, ErrorKind::Overloaded, None),
        (Behavior::MalformedJson, ErrorKind::Decode, None),
    ];
    for (behavior, kind, wait) in cases {
        upstream.script("k", [behavior.clone()]);
        let err = claude
            .chat(provider_call("anthropic", "c", "k", request(), &[]))
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{behavior:?}: {err}");
        if wait.is_some() {
            assert_eq!(err.retry_after, wait);
        }
    }
    for (behavior, kind) in [
        (Behavior::MidStreamError(2), ErrorKind::Overloaded),
        (Behavior::EndWithoutTerminal(1), ErrorKind::Decode),
        (Behavior::CutAfter(1), ErrorKind::Network),
        (Behavior::StallAfter(1), ErrorKind::Timeout),
    ] {
        upstream.script("k", [behavior.clone()]);
        let start = claude
            .chat_stream(provider_call("anthropic", "c", "k", request(), &[]))
            .await
            .unwrap();
        let items: Vec<_> = start.events.collect().await;
        let err = items
            .last()
            .unwrap()
            .as_ref()
            .expect_err("ends in an error");
        assert_eq!(err.kind, kind, "{behavior:?}");
        if let Behavior::MidStreamError(n) = behavior {
            assert_eq!(items.len(), n + 1, "content before the error is delivered");
        }
    }
}

#[tokio::test]
async fn zero_headroom_is_reported_with_its_reset() {
    let upstream = FakeUpstream::start().await.unwrap();
    let claude = adapter(&upstream, |_| {});
    upstream.script("k", [Behavior::HeadroomExhausted(Duration::from_secs(30))]);
    let reply = claude
        .chat(provider_call(
            "anthropic",
            "c",
            "k",
            ChatRequest {
                messages: vec![ChatMessage::user("hi")],
                ..ChatRequest::default()
            },
            &[],
        ))
        .await
        .unwrap();
    let wait = reply.headroom.unwrap().exhausted_for().unwrap();
    assert!(
        wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}
