//! The fake Anthropic Messages protocol, as documented: `content` blocks (a thinking
//! block first when `thinking` was asked), named SSE events from `message_start` to
//! `message_stop` with `ping`s, `error` events after HTTP 200, `{"type":"error",…}`
//! bodies, and `anthropic-ratelimit-*` headers with RFC 3339 resets.

use http::{Response, StatusCode};
use rotate_core::clock::{rfc3339, Clock, SystemClock};
use serde_json::{json, Value};

use super::render::{
    completion_tokens, json, pieces, raw, retry_headers, sse, Ending, Exchange, ReplyBody,
};
use super::Behavior;

/// The vendor's allowance of requests when a key has no budget of its own.
const REQUEST_LIMIT: u64 = 4_000;

fn headroom_headers(
    remaining: u64,
    limit: u64,
    reset: std::time::Duration,
) -> Vec<(&'static str, String)> {
    let at = rfc3339(SystemClock.unix_ms() + reset.as_millis() as u64);
    vec![
        ("anthropic-ratelimit-requests-limit", limit.to_string()),
        (
            "anthropic-ratelimit-requests-remaining",
            remaining.to_string(),
        ),
        ("anthropic-ratelimit-requests-reset", at.clone()),
        ("anthropic-ratelimit-tokens-limit", "400000".to_owned()),
        ("anthropic-ratelimit-tokens-remaining", "399000".to_owned()),
        ("anthropic-ratelimit-tokens-reset", at),
        ("request-id", "req_testkit".to_owned()),
    ]
}

/// An error response of the kind `behavior` names.
pub(crate) fn error(behavior: Behavior, _key: &str) -> Response<ReplyBody> {
    let (status, etype, message, headers): (u16, &str, &str, Vec<(&str, String)>) = match behavior {
        Behavior::RateLimited(wait) => {
            let mut headers = retry_headers(wait);
            headers.extend(headroom_headers(
                0,
                REQUEST_LIMIT,
                wait.unwrap_or(std::time::Duration::from_secs(1)),
            ));
            (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", headers)
        }
        Behavior::QuotaExhausted => (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", Vec::new()),
        Behavior::Unauthorized => (401, "authentication_error", "invalid x-api-key", Vec::new()),
        Behavior::BadRequest => (400, "invalid_request_error", "messages: roles must alternate between \"user\" and \"assistant\"", Vec::new()),
        Behavior::ContextLength => (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum", Vec::new()),
        Behavior::Overloaded => (529, "overloaded_error", "Overloaded", Vec::new()),
        Behavior::ServerError(529) => (529, "overloaded_error", "Overloaded", Vec::new()),
        Behavior::ServerError(504) => (504, "timeout_error", "Request timed out", Vec::new()),
        Behavior::ServerError(status) => (status, "api_error", "Internal server error", Vec::new()),
        Behavior::ErrorSaying(status, message) => {
            let body = json!({"type": "error", "error": {"type": "api_error", "message": message}, "request_id": "req_testkit_error"});
            return json(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body, &[]);
        }
        _ => (500, "api_error", "unexpected scripted behaviour", Vec::new()),
    };
    let body = json!({"type": "error", "error": {"type": etype, "message": message}, "request_id": "req_testkit_error"});
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
        &headers,
    )
}

fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The answer to an Anthropic request.
pub(crate) fn respond(x: &Exchange<'_>, behavior: Behavior) -> Response<ReplyBody> {
    let model = x.model();
    let id = format!("msg_testkit{}", x.serial);
    let (headers, behavior) = match behavior {
        Behavior::HeadroomExhausted(reset) => {
            (headroom_headers(0, REQUEST_LIMIT, reset), Behavior::Ok)
        }
        Behavior::Headroom(left, limit, reset) => {
            (headroom_headers(left, limit, reset), Behavior::Ok)
        }
        other => (
            headroom_headers(
                REQUEST_LIMIT - 1,
                REQUEST_LIMIT,
                std::time::Duration::from_secs(1),
            ),
            other,
        ),
    };
    let thinking = x.body.get("thinking").is_some();
    let text = x.reply_text(&behavior);
    let prompt = x.prompt_tokens();
    let completion = completion_tokens(&text) + if thinking { 7 } else { 0 };
    let streamed_count = behavior.streamed_count();
    match &behavior {
        Behavior::ToolCalls(calls) => {
            return tool_calls(x, calls, false, &id, &model, prompt, &headers)
        }
        Behavior::ToolCallsCut(calls) => {
            return tool_calls(x, calls, true, &id, &model, prompt, &headers)
        }
        Behavior::Refusal(text) => {
            let body = json!({
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "refusal", "stop_sequence": null,
                "usage": {"input_tokens": prompt, "output_tokens": 9}
            });
            return json(StatusCode::OK, &body, &headers);
        }
        _ => {}
    }
    match behavior {
        Behavior::Ok | Behavior::Reply(_) => {}
        Behavior::MalformedJson if !x.stream => {
            return raw(
                StatusCode::OK,
                "application/json",
                format!("{{\"id\":\"{id}\",\"type\":\"message\",\"content\":[{{"),
                &headers,
            )
        }
        Behavior::MalformedJson => {
            return sse(
                vec![
                    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":\n\n"
                        .to_owned(),
                ],
                Ending::Clean,
                &headers,
            )
        }
        _ if streamed_count.is_some() => {}
        other => return error(other, x.key),
    }
    if !x.stream {
        let mut content = Vec::new();
        if thinking {
            content.push(json!({"type": "thinking", "thinking": "Let me think about this.", "signature": "sig_testkit"}));
        }
        content.push(json!({"type": "text", "text": text}));
        let body = json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": completion, "service_tier": "standard"}
        });
        return json(StatusCode::OK, &body, &headers);
    }
    let mut events = opening(
        &id,
        &model,
        prompt,
        thinking.then_some(("Let me think about this.", "sig_testkit")),
    );
    let index = u64::from(thinking);
    events.push(event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
    events.push(event("ping", &json!({"type": "ping"})));
    let all = pieces(&text);
    let take = streamed_count.unwrap_or(all.len()).min(all.len());
    for piece in &all[..take] {
        events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
    }
    match behavior {
        Behavior::CutAfter(_) => return sse(events, Ending::Cut, &headers),
        Behavior::EndWithoutTerminal(_) => return sse(events, Ending::Clean, &headers),
        Behavior::StallAfter(_) => return sse(events, Ending::Stall, &headers),
        Behavior::MidStreamError(_) => {
            events.push(event("error", &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})));
            return sse(events, Ending::Clean, &headers);
        }
        _ => {}
    }
    events.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
    events.push(event("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": completion}})));
    events.push(event("message_stop", &json!({"type": "message_stop"})));
    sse(events, Ending::Clean, &headers)
}

/// An answer that calls `calls`: `tool_use` blocks (after a signed thinking block when
/// thinking was asked), streamed as block starts and `input_json_delta` pieces.
fn tool_calls(
    x: &Exchange<'_>,
    calls: &[rotate_core::tool::ToolCall],
    cut: bool,
    id: &str,
    model: &str,
    prompt: u64,
    headers: &[(&'static str, String)],
) -> Response<ReplyBody> {
    let thinking = x.body.get("thinking").is_some();
    let input = |c: &rotate_core::tool::ToolCall| {
        serde_json::from_str::<Value>(&c.arguments).unwrap_or_else(|_| json!({}))
    };
    if !x.stream {
        let mut content = Vec::new();
        if thinking {
            content.push(json!({"type": "thinking", "thinking": "I should call a tool.", "signature": "sig_testkit_tools"}));
        }
        for call in calls {
            content.push(
                json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input(call)}),
            );
        }
        let body = json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 12}
        });
        return json(StatusCode::OK, &body, headers);
    }
    let mut events = opening(
        id,
        model,
        prompt,
        thinking.then_some(("I should call a tool.", "sig_testkit_tools")),
    );
    for (index, call) in (u64::from(thinking)..).zip(calls) {
        events.push(event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}})));
        let text: Vec<char> = input(call).to_string().chars().collect();
        let third = text.len().div_ceil(3).max(1);
        for piece in text.chunks(third) {
            let piece: String = piece.iter().collect();
            events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
            if cut {
                return sse(events, Ending::Cut, headers);
            }
        }
        events.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(event("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 12}})));
    events.push(event("message_stop", &json!({"type": "message_stop"})));
    sse(events, Ending::Clean, headers)
}

/// A stream's `message_start`, then (with `thinking`: its text and signature) one signed
/// thinking block at index 0.
fn opening(id: &str, model: &str, prompt: u64, thinking: Option<(&str, &str)>) -> Vec<String> {
    let mut events = vec![event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}
        }}),
    )];
    if let Some((text, signature)) = thinking {
        events.push(event("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})));
        events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": text}})));
        events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": signature}})));
        events.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ));
    }
    events
}

/// Claude on Vertex: the Messages body must carry `anthropic_version:
/// vertex-2023-10-16` and no `model` (the path names it); the answer is Anthropic's.
pub(crate) fn respond_on_vertex(
    x: &Exchange<'_>,
    path: &str,
    behavior: Behavior,
) -> Response<ReplyBody> {
    let model = path
        .rsplit_once("/models/")
        .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
        .unwrap_or("unknown-model");
    let refusal = if x.body.get("model").is_some() {
        Some("model: Extra inputs are not permitted")
    } else if x
        .body
        .get("anthropic_version")
        .and_then(serde_json::Value::as_str)
        != Some("vertex-2023-10-16")
    {
        Some("anthropic_version: Input should be 'vertex-2023-10-16'")
    } else {
        None
    };
    if let Some(message) = refusal {
        let body = serde_json::json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
        return json(StatusCode::BAD_REQUEST, &body, &[]);
    }
    let mut body = x.body.clone();
    body["model"] = serde_json::Value::from(model);
    let exchange = Exchange {
        key: x.key,
        body: &body,
        stream: x.stream,
        serial: x.serial,
    };
    respond(&exchange, behavior)
}
