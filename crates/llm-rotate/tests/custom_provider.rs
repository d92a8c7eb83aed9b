//! A custom provider written against rotate-core alone, registered on the builder; its
//! boxed futures cross `tokio::spawn`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use llm_rotate::core::error::{ErrorKind, ProviderError};
use llm_rotate::core::provider::{
    BoxFuture, Provider, ProviderCall, ProviderReply, ProviderStreamStart, StreamDelta,
};
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig, Usage};
use serde_json::json;

struct Upper;

impl Provider for Upper {
    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        Box::pin(async move {
            let text = call
                .request
                .messages
                .last()
                .map(|m| m.text().to_uppercase())
                .unwrap_or_default();
            if text.is_empty() {
                return Err(ProviderError::new(ErrorKind::InvalidRequest, "empty"));
            }
            Ok(ProviderReply {
                content: text,
                usage: Usage::new(1, 1),
                ..ProviderReply::default()
            })
        })
    }

    fn chat_stream(
        &self,
        _call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        Box::pin(async move {
            let events = vec![
                Ok(StreamDelta {
                    delta: "UP".into(),
                    ..StreamDelta::default()
                }),
                Ok(StreamDelta {
                    finish_reason: Some("stop".into()),
                    usage: Some(Usage::new(1, 1)),
                    ..StreamDelta::default()
                }),
            ];
            Ok(ProviderStreamStart {
                headroom: None,
                events: Box::pin(futures_util::stream::iter(events)),
            })
        })
    }
}

#[tokio::test]
async fn a_registered_provider_serves_its_keys() {
    let config = LMRotateConfig::from_value(
        json!({"keys": [{"id": "mine-1", "provider": "mine", "value": "local"}]}),
    )
    .unwrap();
    let client = LMRotate::builder(config)
        .provider("mine", Arc::new(Upper))
        .build()
        .unwrap();
    let task = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .chat(
                    "mine/any-model",
                    &[ChatMessage::user("shout")],
                    ChatOptions::default(),
                )
                .await
        })
    };
    let reply = task.await.unwrap().unwrap();
    assert_eq!(reply.content, "SHOUT");
    assert_eq!(reply.provider, "mine");
    assert_eq!(reply.model, "any-model");
    assert_eq!(
        client.usage_summary().await.by_provider["mine"].successes,
        1
    );
    let err = client
        .chat(
            "x",
            &[ChatMessage::user("")],
            ChatOptions::default().provider("mine"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}
