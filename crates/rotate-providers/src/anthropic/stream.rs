//! Reading an Anthropic stream: named events, text deltas (thinking excluded), usage
//! from `message_start` and the cumulative `message_delta`, `message_stop` as the
//! terminal event, and `error` events that may arrive after content.

use std::collections::VecDeque;

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use serde_json::Value;

use super::response::{error_kind, finish_reason, usage};
use crate::events::StreamProtocol;
use crate::json::{count, object, text};
use crate::sse::SseEvent;

/// The Anthropic stream grammar.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    input: Option<Value>,
    output_tokens: u64,
    stop_reason: Option<String>,
    done: bool,
}

impl StreamProtocol for AnthropicStream {
    fn on_event(
        &mut self,
        event: SseEvent<'_>,
        out: &mut VecDeque<StreamDelta>,
    ) -> Result<(), ProviderError> {
        let Some(v) = event.json("stream event")? else {
            return Ok(());
        };
        let name = if event.event.is_empty() {
            v.get("type").and_then(Value::as_str).unwrap_or("")
        } else {
            event.event
        };
        match name {
            "message_start" => {
                let message_usage = v.get("message").and_then(|m| m.get("usage"));
                if let Some(u) = object(message_usage, "message.usage", "stream event")? {
                    self.output_tokens = count(u, &["output_tokens"], "stream event")?.unwrap_or(0);
                    self.input = Some(u.clone());
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta");
                if let Some(delta) =
                    delta.filter(|d| d.get("type").and_then(Value::as_str) == Some("text_delta"))
                {
                    if let Some(text) =
                        text(delta, "text", "stream event")?.filter(|t| !t.is_empty())
                    {
                        out.push_back(StreamDelta {
                            delta: text.to_owned(),
                            ..StreamDelta::default()
                        });
                    }
                }
            }
            "message_delta" => {
                if let Some(reason) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(finish_reason(reason));
                }
                if let Some(u) = object(v.get("usage"), "usage", "stream event")? {
                    if let Some(output) = count(u, &["output_tokens"], "stream event")? {
                        self.output_tokens = output;
                    }
                    if let (Some(input), Some(obj)) = (self.input.as_mut(), u.as_object()) {
                        for key in [
                            "input_tokens",
                            "cache_creation_input_tokens",
                            "cache_read_input_tokens",
                        ] {
                            if let Some(n) = obj.get(key).filter(|n| n.is_u64()) {
                                input[key] = n.clone();
                            }
                        }
                    }
                }
            }
            "message_stop" => {
                self.done = true;
                let mut totals = self.input.take().unwrap_or_else(|| serde_json::json!({}));
                totals["output_tokens"] = Value::from(self.output_tokens);
                out.push_back(StreamDelta {
                    finish_reason: self.stop_reason.take(),
                    usage: Some(usage(Some(&totals))?),
                    ..StreamDelta::default()
                });
            }
            "error" => {
                let (kind, message) = error_kind(v.get("error").unwrap_or(&Value::Null), None);
                return Err(ProviderError::new(kind, message));
            }
            _ => {} // ping, content_block_start/stop and future event types
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.done
    }

    fn name(&self) -> &'static str {
        "Anthropic"
    }
}
