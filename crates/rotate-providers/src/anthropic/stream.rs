//! Reading an Anthropic stream: named events; text deltas; `tool_use` blocks as tool-call
//! pieces (the block start names the call, `input_json_delta` adds to its arguments);
//! `thinking_delta` and `signature_delta` as reasoning; usage from `message_start` and
//! the cumulative `message_delta`; `message_stop` as the terminal event; and `error`
//! events that may arrive after content.

use std::collections::VecDeque;

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use serde_json::Value;

use super::response::{error_kind, finish_reason, usage};
use crate::errors::malformed;
use crate::events::StreamProtocol;
use crate::json::{count, object, text};
use crate::sse::SseEvent;
use crate::tool_blocks::ToolBlocks;

/// The `index` of a content-block event.
fn block_index(v: &Value) -> Result<u64, ProviderError> {
    count(v, &["index"], "stream event")?
        .ok_or_else(|| malformed("stream event", "a content-block event has no `index`"))
}

/// The Anthropic stream grammar.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    input: Option<Value>,
    output_tokens: u64,
    stop_reason: Option<String>,
    done: bool,
    /// The `tool_use` blocks so far.
    calls: ToolBlocks,
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
            "content_block_start" => {
                let block = v.get("content_block");
                if block.and_then(|b| b.get("type")).and_then(Value::as_str) == Some("tool_use") {
                    let block = block.unwrap_or(&Value::Null);
                    let start =
                        self.calls
                            .start(block_index(&v)?, block, "id", "a `tool_use` block")?;
                    out.push_back(start);
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let piece = |name: &str| -> Result<Option<String>, ProviderError> {
                    Ok(text(delta, name, "stream event")?
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned))
                };
                let event = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => piece("text")?.map(|text| StreamDelta {
                        delta: text,
                        ..StreamDelta::default()
                    }),
                    Some("thinking_delta") => piece("thinking")?.map(|text| StreamDelta {
                        reasoning: Some(text),
                        ..StreamDelta::default()
                    }),
                    Some("signature_delta") => piece("signature")?.map(|signature| StreamDelta {
                        reasoning_signature: Some(signature),
                        ..StreamDelta::default()
                    }),
                    Some("input_json_delta") => self.calls.arguments(
                        block_index(&v)?,
                        piece("partial_json")?,
                        "`input_json_delta` outside a `tool_use` block",
                    )?,
                    _ => None,
                };
                out.extend(event);
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
