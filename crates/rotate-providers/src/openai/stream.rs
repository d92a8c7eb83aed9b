//! Reading an OpenAI stream: `data:` chunks, usage from whichever chunk carries it
//! (top-level `usage` or Groq's `x_groq.usage`), `finish_reason` held until the end,
//! `data: [DONE]` as the terminal event, and `{"error":…}` events mid-stream.

use std::borrow::Cow;
use std::collections::VecDeque;

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use rotate_core::response::Usage;
use rotate_core::tool::ToolCallDelta;
use serde::Deserialize;
use serde_json::Value;

use super::response::{error_fields, kind_from_code, usage};
use crate::errors::malformed;
use crate::events::StreamProtocol;
use crate::sse::SseEvent;

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    x_groq: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<CallPiece>>,
}

#[derive(Deserialize)]
struct CallPiece {
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionPiece>,
}

#[derive(Deserialize)]
struct FunctionPiece {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// The OpenAI stream grammar.
#[derive(Debug, Default)]
pub struct OpenAiStream {
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
    hide_usage: bool,
    hid_last: bool,
    /// Set on a Responses API stream (`response.*` events).
    responses: Option<super::responses::ResponsesState>,
}

impl OpenAiStream {
    /// The grammar of a Responses API stream.
    pub fn responses() -> Self {
        Self {
            responses: Some(super::responses::ResponsesState::default()),
            ..Self::default()
        }
    }

    /// The grammar of a passthrough stream; with `hide_usage`, the usage-only chunk
    /// (asked for by the gateway, not the client) is kept from the client.
    pub fn hiding_usage(hide_usage: bool) -> Self {
        Self {
            hide_usage,
            ..Self::default()
        }
    }
}

impl StreamProtocol for OpenAiStream {
    fn on_event(
        &mut self,
        event: SseEvent<'_>,
        out: &mut VecDeque<StreamDelta>,
    ) -> Result<(), ProviderError> {
        self.hid_last = false;
        if let Some(state) = self.responses.as_mut() {
            return super::responses::on_event(state, event, out);
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data.starts_with("[DONE]") {
            self.done = true;
            out.push_back(StreamDelta {
                finish_reason: self.finish_reason.take(),
                usage: self.usage.take(),
                ..StreamDelta::default()
            });
            return Ok(());
        }
        let chunk: Chunk<'_> =
            serde_json::from_str(data).map_err(|e| malformed("stream chunk", e))?;
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            let (message, code, kind) = error_fields(&error);
            return Err(ProviderError::new(
                kind_from_code(&code, &kind, &message),
                message,
            ));
        }
        let usage_value = chunk
            .usage
            .filter(|u| !u.is_null())
            .or_else(|| chunk.x_groq.and_then(|x| x.get("usage").cloned()));
        if usage_value.is_some() {
            self.usage = Some(usage(usage_value.as_ref())?);
            self.hid_last = self.hide_usage && chunk.choices.is_empty();
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(delta) = choice.delta {
                let event = StreamDelta {
                    delta: delta.content.map(Cow::into_owned).unwrap_or_default(),
                    reasoning: delta
                        .reasoning_content
                        .filter(|t| !t.is_empty())
                        .map(Cow::into_owned),
                    tool_calls: delta
                        .tool_calls
                        .unwrap_or_default()
                        .into_iter()
                        .map(|piece| {
                            let function = piece.function.unwrap_or(FunctionPiece {
                                name: None,
                                arguments: None,
                            });
                            ToolCallDelta {
                                index: piece.index,
                                id: piece.id,
                                name: function.name,
                                arguments: function.arguments.unwrap_or_default(),
                            }
                        })
                        .collect(),
                    ..StreamDelta::default()
                };
                if event.has_content() {
                    out.push_back(event);
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason.into_owned());
            }
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.responses
            .as_ref()
            .map_or(self.done, |state| state.done)
    }

    fn name(&self) -> &'static str {
        "OpenAI"
    }

    fn hides_last_event(&self) -> bool {
        self.hid_last
    }
}
