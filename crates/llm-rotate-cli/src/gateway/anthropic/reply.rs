//! Answers in Anthropic's shape: a `message` object from a [`ChatResponse`], and the
//! event stream (`message_start`, `content_block_start` / `_delta` / `_stop` for text,
//! thinking with its signature and `tool_use` with `input_json_delta`, `message_delta`,
//! `message_stop`) from stream chunks. A stream that fails ends with an `error` event,
//! never with `message_stop`.

use llm_rotate::{ChatResponse, StreamChunk, Usage};
use serde_json::{json, Value};

use crate::gateway::answer::Translation;
use crate::gateway::http::{ApiError, Dialect};

/// Anthropic's `stop_reason` for a normalised finish reason.
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls") => "tool_use",
        Some("refusal" | "content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// The `usage` object: cached prompt tokens are reported as cache reads.
fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens.saturating_sub(usage.cached_tokens),
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "output_tokens": usage.completion_tokens,
    })
}

/// A whole `message` answer: thinking first, then text, then tool calls.
pub fn message(answer: &ChatResponse, id: &str) -> Value {
    let mut content: Vec<Value> = answer
        .reasoning
        .iter()
        .filter_map(|part| part.as_reasoning())
        .map(|r| match &r.redacted {
            Some(data) => json!({"type": "redacted_thinking", "data": data}),
            None => json!({"type": "thinking", "thinking": r.text, "signature": r.signature.clone().unwrap_or_default()}),
        })
        .collect();
    let text = match (&answer.refusal, answer.content.is_empty()) {
        (Some(refusal), true) => refusal.as_str(),
        _ => answer.content.as_str(),
    };
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in &answer.tool_calls {
        let input = call.arguments_json().unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason(answer.finish_reason.as_deref()),
        "stop_sequence": null,
        "usage": usage(&answer.usage),
    })
}

/// The block open in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its index among the answer's calls.
    Tool(u32),
}

/// Turns stream chunks into Anthropic events.
#[derive(Debug)]
pub struct EventWriter {
    id: String,
    started: bool,
    open: Option<Open>,
    /// The index of the next content block.
    next_index: u32,
    finish: Option<String>,
    usage: Usage,
}

impl EventWriter {
    pub fn new(id: String) -> Self {
        Self {
            id,
            started: false,
            open: None,
            next_index: 0,
            finish: None,
            usage: Usage::default(),
        }
    }

    /// The events one chunk adds.
    pub fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            let message = json!({"id": self.id, "type": "message", "role": "assistant", "model": chunk.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}});
            event(
                out,
                "message_start",
                &json!({"type": "message_start", "message": message}),
            );
        }
        if let Some(thinking) = chunk.reasoning.as_deref().filter(|t| !t.is_empty()) {
            self.open_block(
                Open::Thinking,
                out,
                || json!({"type": "thinking", "thinking": "", "signature": ""}),
            );
            self.delta(out, json!({"type": "thinking_delta", "thinking": thinking}));
        }
        if let Some(signature) = &chunk.reasoning_signature {
            self.open_block(
                Open::Thinking,
                out,
                || json!({"type": "thinking", "thinking": "", "signature": ""}),
            );
            self.delta(
                out,
                json!({"type": "signature_delta", "signature": signature}),
            );
        }
        if !chunk.delta.is_empty() {
            self.open_block(Open::Text, out, || json!({"type": "text", "text": ""}));
            self.delta(out, json!({"type": "text_delta", "text": chunk.delta}));
        }
        for call in &chunk.tool_calls {
            let id = call.id.clone().unwrap_or_default();
            let name = call.name.clone().unwrap_or_default();
            self.open_block(
                Open::Tool(call.index),
                out,
                || json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            );
            if !call.arguments.is_empty() {
                self.delta(
                    out,
                    json!({"type": "input_json_delta", "partial_json": call.arguments}),
                );
            }
        }
        if let Some(finish) = &chunk.finish_reason {
            self.finish = Some(finish.clone());
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage;
        }
    }

    /// The closing events of a stream that ended cleanly.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.close_block(out);
        let delta = json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
            "usage": usage(&self.usage)});
        event(out, "message_delta", &delta);
        event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    /// Opens a block of `kind` unless one is open, closing any other first.
    fn open_block(&mut self, kind: Open, out: &mut Vec<u8>, block: impl FnOnce() -> Value) {
        if self.open == Some(kind) {
            return;
        }
        self.close_block(out);
        let start = json!({"type": "content_block_start", "index": self.next_index, "content_block": block()});
        event(out, "content_block_start", &start);
        self.open = Some(kind);
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            let stop = json!({"type": "content_block_stop", "index": self.next_index});
            event(out, "content_block_stop", &stop);
            self.next_index += 1;
        }
    }

    fn delta(&self, out: &mut Vec<u8>, delta: Value) {
        let event_body =
            json!({"type": "content_block_delta", "index": self.next_index, "delta": delta});
        event(out, "content_block_delta", &event_body);
    }
}

impl Translation for EventWriter {
    fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        EventWriter::chunk(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        EventWriter::finish(self, out);
    }

    /// Anthropic's `error` event, the stream passed through or not.
    fn error(&mut self, error: &ApiError, _passed_through: bool, out: &mut Vec<u8>) {
        event(out, "error", &error.body(Dialect::Anthropic));
    }
}

/// Appends one `event:` / `data:` pair, framed as Anthropic frames it.
pub fn event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    crate::gateway::http::write_sse_event(out, data, b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_rotate::ToolCallDelta;

    fn chunk(edit: impl FnOnce(&mut StreamChunk)) -> StreamChunk {
        let mut chunk = StreamChunk {
            model: "claude-sonnet-4-5".into(),
            ..StreamChunk::default()
        };
        edit(&mut chunk);
        chunk
    }

    fn events(out: &[u8]) -> Vec<(String, Value)> {
        String::from_utf8_lossy(out)
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let data: Value = serde_json::from_str(data.trim_start_matches("data: ")).unwrap();
                assert_eq!(data["type"], name.trim_start_matches("event: "));
                (name.trim_start_matches("event: ").to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn thinking_text_and_two_tool_calls_become_indexed_blocks() {
        let mut writer = EventWriter::new("msg_1".into());
        let mut out = Vec::new();
        for c in [
            chunk(|c| c.reasoning = Some("hmm".into())),
            chunk(|c| c.reasoning_signature = Some("sig".into())),
            chunk(|c| c.delta = "Checking.".into()),
            chunk(|c| {
                c.tool_calls = vec![ToolCallDelta {
                    index: 0,
                    id: Some("t1".into()),
                    name: Some("w".into()),
                    arguments: "{\"a\":".into(),
                }];
            }),
            chunk(|c| {
                c.tool_calls = vec![ToolCallDelta {
                    index: 0,
                    id: None,
                    name: None,
                    arguments: "1}".into(),
                }]
            }),
            chunk(|c| {
                c.tool_calls = vec![ToolCallDelta {
                    index: 1,
                    id: Some("t2".into()),
                    name: Some("w".into()),
                    arguments: "{}".into(),
                }]
            }),
            chunk(|c| {
                c.finish_reason = Some("tool_calls".into());
                c.usage = Some(Usage {
                    prompt_tokens: 10,
                    completion_tokens: 4,
                    total_tokens: 14,
                    ..Usage::default()
                });
            }),
        ] {
            writer.chunk(&c, &mut out);
        }
        writer.finish(&mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[1].1["content_block"]["type"], "thinking");
        assert_eq!(
            events[3].1["delta"],
            json!({"type": "signature_delta", "signature": "sig"})
        );
        assert_eq!(
            events[8].1["content_block"],
            json!({"type": "tool_use", "id": "t1", "name": "w", "input": {}})
        );
        assert_eq!(events[10].1["delta"]["partial_json"], "1}");
        assert_eq!(events[12].1["index"], 3);
        assert_eq!(events[15].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[15].1["usage"]["output_tokens"], 4);
    }
}
