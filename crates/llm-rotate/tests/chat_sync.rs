//! `chat_sync` from plain threads, and its refusal inside a runtime.
#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, ErrorKind, LMRotate, LMRotateConfig, LMRotateError};
use rotate_testkit::FakeUpstream;
use serde_json::json;

#[test]
fn chat_sync_works_without_a_runtime_and_refuses_inside_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upstream = runtime.block_on(FakeUpstream::start()).unwrap();
    // built outside any runtime
    let client = LMRotate::new(
        LMRotateConfig::from_value(upstream.config(&[("a", "openai")], json!({}))).unwrap(),
    )
    .unwrap();

    let reply = client
        .chat_sync("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .unwrap();
    assert_eq!(reply.content, "ok from sk-test-a");

    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                client
                    .chat_sync("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
                    .map(|r| r.key_id)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), "a");
    }

    let inside = runtime.block_on(async {
        client.chat_sync("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
    });
    let err = inside.unwrap_err();
    assert!(matches!(err, LMRotateError::Blocking(_)));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(upstream.requests().len(), 5);
    drop(client);
}
