//! The fake OpenAI Responses API (`POST …/responses`): a `response` object whose `output`
//! holds the answer message (or `function_call` items for [`Behavior::ToolCalls`]), and
//! with `stream: true` the `response.*` events as OpenAI sends them (`event:` named,
//! `sequence_number` counted, `response.completed` last, no `[DONE]`).
//! [`Behavior::EndWithoutTerminal`] stops before `response.completed`. Error behaviours
//! answer as the chat endpoint does (the same error bodies).

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::render::{completion_tokens, json, pieces, sse, Ending, Exchange, ReplyBody};
use super::{openai, Behavior};

fn usage(input: u64, output: u64) -> Value {
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": 0},
           "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": input + output})
}

/// Input tokens: about four characters a token of the request's `input`.
fn input_tokens(body: &Value) -> u64 {
    let chars = body.get("input").map_or(0, |i| i.to_string().len());
    (chars as u64).div_ceil(4).max(1)
}

/// `POST …/responses`.
pub(crate) fn respond(x: &Exchange<'_>, behavior: Behavior) -> Response<ReplyBody> {
    let calls = match &behavior {
        Behavior::ToolCalls(calls) => calls.clone(),
        Behavior::Ok | Behavior::Reply(_) | Behavior::EndWithoutTerminal(_) => Vec::new(),
        _ => return openai::respond(x, behavior),
    };
    let id = format!("resp_testkit{}", x.serial);
    let text = if calls.is_empty() {
        x.reply_text(&behavior)
    } else {
        String::new()
    };
    let message_id = format!("msg_testkit{}", x.serial);
    let message = |text: &str| {
        json!({"type": "message", "id": message_id, "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    };
    let call_items: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"type": "function_call", "id": format!("fc_testkit{i}"), "call_id": c.id, "name": c.name, "arguments": c.arguments, "status": "completed"}))
        .collect();
    let output: Vec<Value> = if calls.is_empty() {
        vec![message(&text)]
    } else {
        call_items.clone()
    };
    let response = |status: &str, output: Vec<Value>, usage: Value| {
        json!({"id": id, "object": "response", "created_at": 1_767_225_600u64 + x.serial, "status": status,
               "model": x.model(), "output": output, "usage": usage, "error": null, "incomplete_details": null,
               "parallel_tool_calls": true, "tool_choice": "auto", "tools": x.body.get("tools").cloned().unwrap_or(json!([]))})
    };
    let final_usage = usage(input_tokens(x.body), completion_tokens(&text).max(1));
    if !x.stream {
        return json(
            StatusCode::OK,
            &response("completed", output, final_usage),
            &[],
        );
    }
    let mut events = Vec::new();
    let mut push = |value: Value| {
        let kind = value["type"].as_str().unwrap_or("").to_owned();
        let mut value = value;
        value["sequence_number"] = json!(events.len());
        events.push(format!("event: {kind}\ndata: {value}\n\n"));
    };
    push(
        json!({"type": "response.created", "response": response("in_progress", Vec::new(), Value::Null)}),
    );
    push(
        json!({"type": "response.in_progress", "response": response("in_progress", Vec::new(), Value::Null)}),
    );
    if calls.is_empty() {
        let mut added = message("");
        added["status"] = json!("in_progress");
        added["content"] = json!([]);
        push(json!({"type": "response.output_item.added", "output_index": 0, "item": added}));
        push(
            json!({"type": "response.content_part.added", "item_id": message_id, "output_index": 0, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        let chunks = pieces(&text);
        let shown = match behavior {
            Behavior::EndWithoutTerminal(n) => n.min(chunks.len()),
            _ => chunks.len(),
        };
        for piece in &chunks[..shown] {
            push(
                json!({"type": "response.output_text.delta", "item_id": message_id, "output_index": 0, "content_index": 0, "delta": piece}),
            );
        }
        if let Behavior::EndWithoutTerminal(_) = behavior {
            return sse(events, Ending::Clean, &[]);
        }
        push(
            json!({"type": "response.output_text.done", "item_id": message_id, "output_index": 0, "content_index": 0, "text": text}),
        );
        push(
            json!({"type": "response.content_part.done", "item_id": message_id, "output_index": 0, "content_index": 0,
                    "part": {"type": "output_text", "text": text, "annotations": []}}),
        );
        push(
            json!({"type": "response.output_item.done", "output_index": 0, "item": message(&text)}),
        );
    } else {
        for (i, item) in call_items.iter().enumerate() {
            let mut added = item.clone();
            added["arguments"] = json!("");
            added["status"] = json!("in_progress");
            push(json!({"type": "response.output_item.added", "output_index": i, "item": added}));
            let arguments = item["arguments"].as_str().unwrap_or("");
            let half = arguments.len() / 2;
            let split = (half..=arguments.len())
                .find(|&k| arguments.is_char_boundary(k))
                .unwrap_or(0);
            for delta in [&arguments[..split], &arguments[split..]] {
                push(
                    json!({"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": i, "delta": delta}),
                );
            }
            push(
                json!({"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": i, "arguments": arguments}),
            );
            push(json!({"type": "response.output_item.done", "output_index": i, "item": item}));
        }
    }
    push(
        json!({"type": "response.completed", "response": response("completed", output, final_usage)}),
    );
    sse(events, Ending::Clean, &[])
}
