//! Streaming end to end: failover before content, cut streams after it, drop frees the key.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use futures_util::StreamExt;
use llm_rotate::{ChatMessage, ChatOptions, ErrorKind, LMRotate, LMRotateConfig, LMRotateError};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

fn client(upstream: &FakeUpstream) -> LMRotate {
    client_with(upstream, &[("a", "openai"), ("b", "openai")])
}

fn client_with(upstream: &FakeUpstream, keys: &[(&str, &str)]) -> LMRotate {
    let config = upstream.config(
        keys,
        json!({"selection_strategy": "round_robin", "stream_idle_timeout_seconds": 1}),
    );
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[tokio::test]
async fn fails_over_before_the_first_content_chunk() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream);
    upstream.script("sk-test-a", [Behavior::RateLimited(None)]);
    let stream = client
        .chat_stream("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    let chunks: Vec<_> = stream.collect().await;
    let text: String = chunks
        .iter()
        .map(|c| c.as_ref().unwrap().delta.clone())
        .collect();
    assert_eq!(text, "ok from sk-test-b");
    let last = chunks.last().unwrap().as_ref().unwrap();
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    assert!(last.usage.is_some());
    assert_eq!(upstream.ids_called(), ["a", "b"]);
    // concatenated deltas equal the non-streamed content
    let reply = client
        .chat(
            "gpt-4o",
            &[ChatMessage::user("hi")],
            ChatOptions::default().provider("openai"),
        )
        .await
        .unwrap();
    assert_eq!(reply.content, text);
}

#[tokio::test]
async fn a_cut_after_content_is_one_err_item_and_counts_against_the_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client_with(&upstream, &[("a", "openai")]);
    for (behavior, kind) in [
        (Behavior::CutAfter(2), ErrorKind::Network),
        (Behavior::EndWithoutTerminal(2), ErrorKind::Decode),
        (Behavior::MidStreamError(2), ErrorKind::ServerError),
        (Behavior::StallAfter(2), ErrorKind::Timeout),
    ] {
        upstream.clear_requests();
        upstream.script("sk-test-a", [behavior.clone()]);
        let stream = client
            .chat_stream("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 3, "{behavior:?}: two chunks then one error");
        let Err(LMRotateError::Stream(e)) = &items[2] else {
            panic!("{behavior:?}: {:?}", items[2])
        };
        assert_eq!(e.kind, kind, "{behavior:?}: {e}");
        assert_eq!(
            upstream.requests().len(),
            1,
            "{behavior:?}: no replay after content"
        );
    }
    let report = client.health().await;
    assert_eq!(report.keys.iter().map(|k| k.failures).sum::<u64>(), 4);
}

#[tokio::test]
async fn dropping_a_stream_frees_its_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream);
    upstream.script("sk-test-a", [Behavior::StallAfter(1)]);
    let mut stream = client
        .chat_stream("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(client.health().await.keys[0].in_flight, 1);
    drop(stream);
    let report = client.health().await;
    assert_eq!(report.keys[0].in_flight, 0);
    assert_eq!(
        report.keys[0].requests, 0,
        "a dropped stream records no outcome"
    );
}
