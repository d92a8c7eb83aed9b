//! Streaming: failover before the first content chunk, one `Err` after it, usage on end.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use futures_util::StreamExt;
use rotate_core::provider::StreamDelta;
use rotate_core::{
    ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotateError, ProviderError, Usage,
};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

fn delta(text: &str) -> Result<StreamDelta, ProviderError> {
    Ok(StreamDelta {
        delta: text.to_owned(),
        ..StreamDelta::default()
    })
}

#[tokio::test]
async fn fails_over_before_content_and_records_usage_at_the_end() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    // a: an empty role chunk, then a server error before any content
    h.provider.push(
        "a",
        Step::Stream(vec![
            delta(""),
            Err(ProviderError::new(ErrorKind::ServerError, "boom").with_status(500)),
        ]),
    );
    let mut stream = h
        .engine
        .chat_stream("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
    let mut text = String::new();
    let mut last = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.provider, "p");
        text.push_str(&chunk.delta);
        last = Some(chunk);
    }
    assert_eq!(text, "ok from b");
    let last = last.unwrap();
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    assert_eq!(last.usage, Some(Usage::new(10, 5)));
    assert_eq!(h.provider.keys_called(), ["a", "b"]);
    assert_eq!(h.state("a").consecutive_failures, 1);
    let usage = h.engine.usage_summary().await;
    assert_eq!(usage.by_key["b"].total_tokens, 15);
    assert_eq!(usage.by_key["a"].failures, 1);
}

#[tokio::test]
async fn an_error_after_content_ends_the_stream_with_one_err() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    h.provider.push(
        "a",
        Step::Stream(vec![
            delta("Hel"),
            delta("lo"),
            Err(ProviderError::new(
                ErrorKind::Overloaded,
                "overloaded_error",
            )),
        ]),
    );
    let mut stream = h
        .engine
        .chat_stream("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
    let items: Vec<_> =
        std::iter::from_fn(|| futures_util::FutureExt::now_or_never(stream.next()).flatten())
            .collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().unwrap().delta, "Hel");
    assert_eq!(items[1].as_ref().unwrap().delta, "lo");
    let Err(LMRotateError::Stream(e)) = &items[2] else {
        panic!("{:?}", items[2])
    };
    assert_eq!(e.kind, ErrorKind::Overloaded);
    assert_eq!(e.key_id, "a");
    assert_eq!(
        h.provider.keys_called(),
        ["a"],
        "no transparent replay after content"
    );
    assert_eq!(h.state("a").consecutive_failures, 1);
}

#[tokio::test]
async fn dropping_a_stream_frees_the_key_and_records_nothing() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    h.provider
        .push("a", Step::Stream(vec![delta("x"), delta("y")]));
    let mut stream = h
        .engine
        .chat_stream("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().delta, "x");
    drop(stream);
    let usage = h.engine.usage_summary().await;
    assert_eq!(usage.total.requests, 0);
    assert_eq!(h.state("a").state, KeyState::Healthy);
    // the key serves again (its in-flight slot was released)
    h.engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn every_key_failing_before_content_is_exhausted() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    for k in ["a", "b"] {
        h.provider
            .set_default(k, Step::fail(ErrorKind::RateLimited, 429));
    }
    let err = h
        .engine
        .chat_stream("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, LMRotateError::Exhausted { ref attempts } if attempts.len() == 2));
}
