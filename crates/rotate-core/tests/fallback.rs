//! Fallback across plan entries: chains, upstream model ids, order.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, LMRotateError};
use rotate_testkit::{Harness, Step};
use serde_json::json;

#[tokio::test]
async fn a_chain_falls_back_in_order_with_upstream_ids() {
    let h = Harness::new(
        json!({
            "keys": [
                {"id": "p1-a", "provider": "p1", "value": "x1"},
                {"id": "p2-a", "provider": "p2", "value": "x2"},
                {"id": "p3-a", "provider": "p3", "value": "x3"}
            ],
            "fallback_chains": {"smart": [
                {"provider": "p1", "upstream": "big-1"},
                {"provider": "p2", "upstream": "big-2"},
                {"provider": "p3"}
            ]}
        }),
        &["p1", "p2", "p3"],
    );
    h.provider
        .set_default("p1-a", Step::fail(ErrorKind::ServerError, 500));
    h.provider
        .set_default("p2-a", Step::fail(ErrorKind::Overloaded, 529));
    let reply = h
        .engine
        .chat(
            "smart",
            &[ChatMessage::user("hi")],
            &ChatOptions::default().max_retries(0),
        )
        .await
        .unwrap();
    assert_eq!(reply.provider, "p3");
    assert_eq!(reply.model, "smart");
    let calls = h.provider.calls();
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.key_id.as_str(), c.model.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("p1-a", "big-1"), ("p2-a", "big-2"), ("p3-a", "smart")]
    );
}

#[tokio::test]
async fn a_caller_fault_does_not_fall_back() {
    let h = Harness::new(
        json!({
            "keys": [
                {"id": "p1-a", "provider": "p1", "value": "x1"},
                {"id": "p2-a", "provider": "p2", "value": "x2"}
            ],
            "fallback_chains": {"smart": [{"provider": "p1"}, {"provider": "p2"}]}
        }),
        &["p1", "p2"],
    );
    h.provider
        .push("p1-a", Step::fail(ErrorKind::ContextLength, 400));
    let err = h
        .engine
        .chat("smart", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, LMRotateError::Provider(_)));
    assert_eq!(h.provider.keys_called(), ["p1-a"]);
}

#[tokio::test]
async fn pinned_provider_uses_its_alias() {
    let h = Harness::new(
        json!({
            "providers": {"p1": {"aliases": {"fast": "p1-fast-v2"}}},
            "keys": [{"id": "k", "provider": "p1", "value": "x"}]
        }),
        &["p1"],
    );
    let reply = h
        .engine
        .chat(
            "fast",
            &[ChatMessage::user("hi")],
            &ChatOptions::default().provider("p1"),
        )
        .await
        .unwrap();
    assert_eq!(reply.model, "p1-fast-v2");
    let err = h
        .engine
        .chat(
            "fast",
            &[ChatMessage::user("hi")],
            &ChatOptions::default().provider("nope"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn unknown_models_have_no_plan() {
    let h = Harness::new(
        json!({"keys": [{"id": "k", "provider": "p1", "value": "x"}]}),
        &["p1"],
    );
    let err = h
        .engine
        .chat(
            "mystery-model",
            &[ChatMessage::user("hi")],
            &ChatOptions::default(),
        )
        .await
        .unwrap_err();
    let LMRotateError::NoAvailableKey(e) = err else {
        panic!()
    };
    assert_eq!(e.model, "mystery-model");
    assert!(e.providers.is_empty());
    assert!(h.provider.calls().is_empty());
}
