//! A custom provider: any backend, written against `llm_rotate::core` (rotate-core)
//! alone, rotated and health-tracked like the built-in ones.
//!
//! `cargo run -p llm-rotate --example custom_provider`

use std::sync::Arc;

use llm_rotate::core::error::ProviderError;
use llm_rotate::core::provider::{
    BoxFuture, Provider, ProviderCall, ProviderReply, ProviderStreamStart, StreamDelta,
};
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig, Usage};

/// Answers by reversing the last message: a stand-in for an in-house model server.
struct Reverser;

impl Provider for Reverser {
    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        Box::pin(async move {
            let text: String = call
                .request
                .messages
                .last()
                .map(|m| m.text().chars().rev().collect())
                .unwrap_or_default();
            Ok(ProviderReply {
                content: text,
                usage: Usage::new(1, 1),
                finish_reason: Some("stop".into()),
                ..ProviderReply::default()
            })
        })
    }

    fn chat_stream(
        &self,
        call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        let reply = self.chat(call);
        Box::pin(async move {
            let reply = reply.await?;
            let events = vec![Ok(StreamDelta {
                delta: reply.content,
                finish_reason: reply.finish_reason,
                usage: Some(reply.usage),
                ..StreamDelta::default()
            })];
            Ok(ProviderStreamStart {
                headroom: None,
                events: Box::pin(futures_util::stream::iter(events)),
            })
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = LMRotateConfig::from_value(serde_json::json!({
        "keys": [
            {"id": "inhouse-1", "provider": "inhouse", "value": "token-1"},
            {"id": "inhouse-2", "provider": "inhouse", "value": "token-2"}
        ]
    }))?;
    let client = LMRotate::builder(config)
        .provider("inhouse", Arc::new(Reverser))
        .build()?;
    for _ in 0..2 {
        let reply = client
            .chat(
                "inhouse/any",
                &[ChatMessage::user("stressed")],
                ChatOptions::default(),
            )
            .await?;
        println!("{} (key {})", reply.content, reply.key_id);
    }
    Ok(())
}
