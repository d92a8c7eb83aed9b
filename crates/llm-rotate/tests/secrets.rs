//! No key value in the Debug or Display of anything public, nor in tracing output.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Write;
use std::sync::Arc;

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use parking_lot::Mutex;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRETS: [&str; 3] = [
    "sk-test-alpha-0123456789abcdef",
    "sk-test-bravo-0123456789abcdef",
    "gw-header-secret-value",
];

#[tokio::test]
async fn secrets_never_print() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(
        &[
            ("alpha-0123456789abcdef", "openai"),
            ("bravo-0123456789abcdef", "openai"),
        ],
        json!({"selection_strategy": "round_robin"}),
    );
    config["providers"]["openai"]["headers"] = json!({"x-extra-auth": SECRETS[2]});
    let config = LMRotateConfig::from_value(config).unwrap();
    let client = LMRotate::new(config.clone()).unwrap();
    upstream.script(SECRETS[0], [Behavior::Unauthorized]);
    upstream.script(SECRETS[1], [Behavior::BadRequest]);
    let err = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    let ctx = client.acquire("openai", None).await;
    let health = client.health().await;
    let usage = client.usage_summary().await;

    let mut shown = vec![
        format!("{config:?}"),
        serde_json::to_string(&config).unwrap(),
        format!("{err:?}"),
        format!("{err}"),
        format!("{health:?}"),
        serde_json::to_string(&health).unwrap(),
        format!("{usage:?}"),
        format!("{client:?}"),
        format!("{ctx:?}"),
    ];
    shown.push(String::from_utf8_lossy(&captured.0.lock()).into_owned());
    assert!(
        shown.last().unwrap().contains("key state changed"),
        "tracing captured the warn line"
    );
    for text in &shown {
        for secret in SECRETS {
            assert!(!text.contains(secret), "secret leaked in: {text}");
        }
    }
    // the upstream really did receive the keys (so the check above is meaningful)
    assert!(upstream.keys_called().contains(&SECRETS[0].to_owned()));
}
