//! Reading a ConverseStream answer (AWS event-stream framing): `contentBlockDelta`
//! text; `toolUse` blocks as tool-call pieces (`contentBlockStart` names the call, each
//! delta's `toolUse.input` adds to its arguments); `reasoningContent` text and
//! signature as reasoning; `messageStop`'s stop reason; `metadata`'s usage, the last
//! event; and the in-stream exceptions (`throttlingException`,
//! `serviceUnavailableException`, `modelStreamErrorException`, `validationException`,
//! …) classified like their HTTP twins.

use std::collections::VecDeque;

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use serde_json::Value;

use super::reply::{error_kind, finish_reason, message_of, usage};
use crate::errors::malformed;
use crate::events::{Framing, StreamProtocol};
use crate::eventstream::ERROR_EVENT;
use crate::json::{count, text};
use crate::sse::SseEvent;
use crate::tool_blocks::ToolBlocks;

/// The ConverseStream grammar.
#[derive(Debug, Default)]
pub struct BedrockStream {
    /// The `toolUse` blocks so far.
    calls: ToolBlocks,
    stopped: bool,
    done: bool,
}

fn block_index(v: &Value) -> Result<u64, ProviderError> {
    count(v, &["contentBlockIndex"], "stream event")?.ok_or_else(|| {
        malformed(
            "stream event",
            "a content-block event has no `contentBlockIndex`",
        )
    })
}

impl BedrockStream {
    fn delta(&self, v: &Value) -> Result<Option<StreamDelta>, ProviderError> {
        let delta = v.get("delta").unwrap_or(&Value::Null);
        let piece = |holder: &Value, name: &str| -> Result<Option<String>, ProviderError> {
            Ok(text(holder, name, "stream event")?
                .filter(|t| !t.is_empty())
                .map(str::to_owned))
        };
        if let Some(text) = piece(delta, "text")? {
            return Ok(Some(StreamDelta {
                delta: text,
                ..StreamDelta::default()
            }));
        }
        if let Some(tool) = delta.get("toolUse") {
            return self.calls.arguments(
                block_index(v)?,
                piece(tool, "input")?,
                "a `toolUse` delta outside a `toolUse` block",
            );
        }
        if let Some(reasoning) = delta.get("reasoningContent") {
            return Ok(Some(StreamDelta {
                reasoning: piece(reasoning, "text")?,
                reasoning_signature: piece(reasoning, "signature")?,
                ..StreamDelta::default()
            })
            .filter(StreamDelta::has_content));
        }
        Ok(None)
    }
}

impl StreamProtocol for BedrockStream {
    fn on_event(
        &mut self,
        event: SseEvent<'_>,
        out: &mut VecDeque<StreamDelta>,
    ) -> Result<(), ProviderError> {
        if event.event.ends_with("Exception") || event.event == ERROR_EVENT {
            let message = message_of(event.data.as_bytes());
            let kind = error_kind(event.event, &message, None);
            return Err(ProviderError::new(
                kind,
                format!("{} in the stream: {message}", event.event),
            ));
        }
        let Some(v) = event.json("stream event")? else {
            return Ok(());
        };
        match event.event {
            "contentBlockStart" => {
                if let Some(tool) = v.pointer("/start/toolUse") {
                    let start = self.calls.start(
                        block_index(&v)?,
                        tool,
                        "toolUseId",
                        "a `toolUse` start",
                    )?;
                    out.push_back(start);
                }
            }
            "contentBlockDelta" => out.extend(self.delta(&v)?),
            "messageStop" => {
                self.stopped = true;
                let reason = text(&v, "stopReason", "stream event")?;
                out.push_back(StreamDelta {
                    finish_reason: Some(finish_reason(reason.unwrap_or("end_turn"))),
                    ..StreamDelta::default()
                });
            }
            "metadata" => {
                self.done = true;
                out.push_back(StreamDelta {
                    usage: Some(usage(v.get("usage"))?),
                    ..StreamDelta::default()
                });
            }
            _ => {} // messageStart, contentBlockStop and future event types
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.done
    }

    /// `metadata` (the usage) follows `messageStop`; a body that ends between them has
    /// lost nothing of the answer.
    fn may_end(&self) -> bool {
        self.stopped
    }

    fn name(&self) -> &'static str {
        "Bedrock"
    }

    fn framing(&self) -> Framing {
        Framing::AwsEventStream
    }
}
