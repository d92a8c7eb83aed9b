//! A 200 whose body has the wrong shape is the upstream's fault: each is a `Decode`
//! failure counted against its key, and the call is served by another key, never an
//! empty success.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, ErrorKind, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};

fn cases() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "openai",
            "gpt-4o",
            json!({"choices": [{"message": {"role": "assistant", "content": 42}}]}),
        ),
        (
            "openai",
            "gpt-4o",
            json!({"choices": [{"message": null}], "usage": []}),
        ),
        (
            "openai",
            "gpt-4o",
            json!({"choices": [{"message": {"content": [{"type": "text", "text": 7}]}}]}),
        ),
        (
            "openai",
            "gpt-4o",
            json!({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": "eleven"}}),
        ),
        (
            "openai",
            "gpt-4o",
            json!({"choices": [{"message": {"content": "hi"}}], "usage": {"completion_tokens_details": {"reasoning_tokens": -3}}}),
        ),
        (
            "anthropic",
            "claude-sonnet-4-5",
            json!({"type": "message", "content": [{"type": "text", "text": 12345}]}),
        ),
        (
            "anthropic",
            "claude-sonnet-4-5",
            json!({"type": "message", "content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": "1"}}),
        ),
        (
            "google",
            "gemini-2.5-flash",
            json!({"candidates": [{"content": {"parts": [{"text": 5}]}}]}),
        ),
        (
            "google",
            "gemini-2.5-flash",
            json!({"candidates": [{"content": {"parts": [{"text": "hi"}]}}], "usageMetadata": "ten"}),
        ),
    ]
}

#[tokio::test]
async fn wrong_typed_bodies_are_decode_failures_served_elsewhere() {
    let upstream = FakeUpstream::start().await.unwrap();
    let cases = cases()
        .into_iter()
        .filter(|(provider, _, _)| cfg!(feature = "google") || *provider != "google");
    for (provider, model, body) in cases {
        let config = upstream.config(
            &[("bad", provider), ("good", provider)],
            json!({"selection_strategy": "round_robin"}),
        );
        let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
        upstream.script("sk-test-bad", [Behavior::Body(body.clone())]);
        let reply = client
            .chat(model, &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
        assert_eq!(reply.key_id, "good", "{provider} {body}");
        assert_eq!(reply.content, "ok from sk-test-good");
        let health = client.health().await;
        let bad = health.keys.iter().find(|k| k.key_id == "bad").unwrap();
        assert_eq!(
            bad.failures_by_kind.get("decode").copied(),
            Some(1),
            "{provider} {body}: {bad:?}"
        );
        assert_eq!(bad.consecutive_failures, 1, "{body}");
    }
}

#[tokio::test]
async fn with_one_key_the_call_fails_as_decode_not_as_an_empty_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    let config = upstream.config(&[("only", "openai")], json!({"max_retries": 0}));
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    upstream.script(
        "sk-test-only",
        [Behavior::Body(
            json!({"choices": [{"message": {"content": 42}}]}),
        )],
    );
    let error = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode, "{error}");
    assert!(error.to_string().contains("content"), "{error}");
}
