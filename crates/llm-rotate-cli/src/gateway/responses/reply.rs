//! Answers from keys that do not speak the Responses API, written as Responses: a
//! `response` object (a `message` item with `output_text`, `function_call` items, usage
//! in `input_tokens` / `output_tokens`), or its `response.*` events in the order OpenAI
//! sends them, each named and numbered by `sequence_number`.

use llm_rotate::{ChatResponse, StreamChunk, Usage};
use serde_json::{json, Value};

use crate::gateway::answer::Translation;
use crate::gateway::http::ApiError;

fn usage(u: &Usage) -> Value {
    json!({"input_tokens": u.prompt_tokens, "input_tokens_details": {"cached_tokens": u.cached_tokens},
           "output_tokens": u.completion_tokens, "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
           "total_tokens": u.total_tokens})
}

/// `status` and `incomplete_details` for a normalised finish.
fn status(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// A `response` object around `output`.
fn response(
    id: &str,
    created: u64,
    model: &str,
    state: (&str, Value),
    output: Vec<Value>,
    usage: Value,
) -> Value {
    json!({"id": id, "object": "response", "created_at": created, "status": state.0, "model": model,
           "output": output, "usage": usage, "error": null, "incomplete_details": state.1,
           "parallel_tool_calls": true, "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}}})
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": status})
}

/// The whole answer as a `response` object named `id`, made at `created`.
pub fn whole(answer: &ChatResponse, id: &str, created: u64) -> Value {
    let mut output = Vec::new();
    if !answer.content.is_empty() || answer.tool_calls.is_empty() {
        output.push(message_item(
            &format!("msg_{id}"),
            &answer.content,
            "completed",
        ));
    }
    for (i, call) in answer.tool_calls.iter().enumerate() {
        output.push(call_item(
            &format!("fc_{id}_{i}"),
            &call.id,
            &call.name,
            &call.arguments,
            "completed",
        ));
    }
    response(
        id,
        created,
        &answer.model,
        status(answer.finish_reason.as_deref()),
        output,
        usage(&answer.usage),
    )
}

/// One output item being streamed.
enum Item {
    Message {
        id: String,
        text: String,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        index: u32,
    },
}

/// Writes a chat stream as `response.*` events.
pub struct EventWriter {
    id: String,
    created: u64,
    model: String,
    sequence: u64,
    started: bool,
    open: Option<Item>,
    done: Vec<Value>,
    finish: Option<String>,
    usage: Usage,
}

impl EventWriter {
    pub fn new(id: String, created: u64) -> Self {
        Self {
            id,
            created,
            model: String::new(),
            sequence: 0,
            started: false,
            open: None,
            done: Vec::new(),
            finish: None,
            usage: Usage::default(),
        }
    }

    fn event(&mut self, out: &mut Vec<u8>, mut value: Value) {
        value["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let kind = value["type"].as_str().unwrap_or("").to_owned();
        out.extend_from_slice(format!("event: {kind}\ndata: {value}\n\n").as_bytes());
    }

    fn output_index(&self) -> usize {
        self.done.len()
    }

    /// Closes the item being streamed, if any.
    fn close(&mut self, out: &mut Vec<u8>) {
        let index = self.output_index();
        match self.open.take() {
            Some(Item::Message { id, text }) => {
                self.event(out, json!({"type": "response.output_text.done", "item_id": id, "output_index": index, "content_index": 0, "text": text}));
                self.event(out, json!({"type": "response.content_part.done", "item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}));
                let item = message_item(&id, &text, "completed");
                self.event(out, json!({"type": "response.output_item.done", "output_index": index, "item": item}));
                self.done.push(item);
            }
            Some(Item::Call {
                id,
                call_id,
                name,
                arguments,
                ..
            }) => {
                self.event(out, json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "arguments": arguments}));
                let item = call_item(&id, &call_id, &name, &arguments, "completed");
                self.event(out, json!({"type": "response.output_item.done", "output_index": index, "item": item}));
                self.done.push(item);
            }
            None => {}
        }
    }

    /// The events one chunk adds.
    pub fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.model.clone_from(&chunk.model);
            let shell = response(
                &self.id,
                self.created,
                &self.model,
                ("in_progress", Value::Null),
                Vec::new(),
                Value::Null,
            );
            self.event(out, json!({"type": "response.created", "response": shell}));
            self.event(
                out,
                json!({"type": "response.in_progress", "response": shell}),
            );
        }
        if !chunk.delta.is_empty() {
            if !matches!(self.open, Some(Item::Message { .. })) {
                self.close(out);
                let id = format!("msg_{}_{}", self.id, self.output_index());
                let index = self.output_index();
                let mut item = message_item(&id, "", "in_progress");
                item["content"] = json!([]);
                self.event(out, json!({"type": "response.output_item.added", "output_index": index, "item": item}));
                self.event(out, json!({"type": "response.content_part.added", "item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}));
                self.open = Some(Item::Message {
                    id,
                    text: String::new(),
                });
            }
            let index = self.output_index();
            if let Some(Item::Message { id, text }) = &mut self.open {
                text.push_str(&chunk.delta);
                let id = id.clone();
                self.event(out, json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": chunk.delta}));
            }
        }
        for piece in &chunk.tool_calls {
            let same =
                matches!(&self.open, Some(Item::Call { index, .. }) if *index == piece.index);
            if !same {
                self.close(out);
                let index = self.output_index();
                let id = format!("fc_{}_{index}", self.id);
                let call_id = piece
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}_{index}", self.id));
                let name = piece.name.clone().unwrap_or_default();
                let item = call_item(&id, &call_id, &name, "", "in_progress");
                self.event(out, json!({"type": "response.output_item.added", "output_index": index, "item": item}));
                self.open = Some(Item::Call {
                    id,
                    call_id,
                    name,
                    arguments: String::new(),
                    index: piece.index,
                });
            }
            let index = self.output_index();
            if let Some(Item::Call { id, arguments, .. }) = &mut self.open {
                arguments.push_str(&piece.arguments);
                let id = id.clone();
                if !piece.arguments.is_empty() {
                    self.event(out, json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": piece.arguments}));
                }
            }
        }
        if chunk.finish_reason.is_some() {
            self.finish.clone_from(&chunk.finish_reason);
        }
        if let Some(u) = chunk.usage {
            self.usage = u;
        }
    }

    /// The closing events.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.chunk(&StreamChunk::default(), out);
        }
        self.close(out);
        let state = status(self.finish.as_deref());
        let kind = if state.0 == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        let done = response(
            &self.id,
            self.created,
            &self.model,
            state,
            self.done.clone(),
            usage(&self.usage),
        );
        self.event(out, json!({"type": kind, "response": done}));
    }
}

impl Translation for EventWriter {
    fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        EventWriter::chunk(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        EventWriter::finish(self, out);
    }

    /// A mid-stream failure, as Responses' `error` event.
    fn error(&mut self, error: &ApiError, _passed_through: bool, out: &mut Vec<u8>) {
        let body =
            json!({"type": "error", "code": error.code, "message": error.message, "param": null});
        self.event(out, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(bytes: &[u8]) -> Vec<Value> {
        String::from_utf8_lossy(bytes)
            .split("\n\n")
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn text_then_a_call_stream_as_items_and_end_with_the_whole_response() {
        let mut writer = EventWriter::new("resp_x".into(), 1);
        let mut out = Vec::new();
        writer.chunk(
            &StreamChunk {
                delta: "Hi".into(),
                model: "claude".into(),
                ..StreamChunk::default()
            },
            &mut out,
        );
        writer.chunk(
            &StreamChunk {
                tool_calls: vec![llm_rotate::ToolCallDelta {
                    index: 0,
                    id: Some("toolu_1".into()),
                    name: Some("f".into()),
                    arguments: "{\"a\":".into(),
                }],
                ..StreamChunk::default()
            },
            &mut out,
        );
        writer.chunk(
            &StreamChunk {
                tool_calls: vec![llm_rotate::ToolCallDelta {
                    index: 0,
                    id: None,
                    name: None,
                    arguments: "1}".into(),
                }],
                finish_reason: Some("tool_calls".into()),
                usage: Some(Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2,
                    total_tokens: 5,
                    ..Usage::default()
                }),
                ..StreamChunk::default()
            },
            &mut out,
        );
        writer.finish(&mut out);
        let events = events(&out);
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let numbers: Vec<u64> = events
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (0..14).collect::<Vec<u64>>());
        let done = &events[13]["response"];
        assert_eq!(done["output"][1]["arguments"], "{\"a\":1}");
        assert_eq!(done["output"][1]["call_id"], "toolu_1");
        assert_eq!(done["usage"]["output_tokens"], 2);
        assert_eq!(done["model"], "claude");
    }
}
