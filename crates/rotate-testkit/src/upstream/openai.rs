//! The fake OpenAI Chat Completions protocol, byte for byte as documented: bodies,
//! `data:` chunks with a role-only first delta, `finish_reason` on the last content
//! chunk, a usage chunk with `choices: []` when `stream_options.include_usage` is set,
//! `data: [DONE]`, `{"error":{…}}` bodies, `x-ratelimit-*` headers with Go durations.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::render::{
    completion_tokens, json, pieces, raw, retry_headers, sse, Ending, Exchange, ReplyBody,
};
use super::Behavior;

/// The vendor's allowance of requests when a key has no budget of its own.
const REQUEST_LIMIT: u64 = 10_000;

fn headroom_headers(
    remaining_requests: u64,
    limit_requests: u64,
    reset: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit-requests", limit_requests.to_string()),
        (
            "x-ratelimit-remaining-requests",
            remaining_requests.to_string(),
        ),
        ("x-ratelimit-reset-requests", reset.to_owned()),
        ("x-ratelimit-limit-tokens", "2000000".to_owned()),
        ("x-ratelimit-remaining-tokens", "1999000".to_owned()),
        ("x-ratelimit-reset-tokens", "30ms".to_owned()),
        ("x-request-id", "req_testkit".to_owned()),
        ("openai-processing-ms", "1".to_owned()),
    ]
}

/// Formats a duration the way OpenAI's reset headers do (`1s`, `250ms`, `6m0s`).
fn go_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", d.as_secs_f64())
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    }
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

/// An error response of the kind `behavior` names.
pub(crate) fn error(behavior: Behavior, key: &str) -> Response<ReplyBody> {
    let shown = if key.len() > 8 {
        format!("{}***{}", &key[..3], &key[key.len() - 4..])
    } else {
        "***".to_owned()
    };
    let (status, message, etype, code, mut headers): (u16, String, &str, Value, Vec<(&str, String)>) = match behavior {
        Behavior::RateLimited(wait) => {
            let mut headers = retry_headers(wait);
            headers.extend(headroom_headers(0, REQUEST_LIMIT, &wait.map_or("1s".to_owned(), go_duration)));
            (429, "Rate limit reached for gpt-4o in organization org-testkit on requests per min (RPM): Limit 10000, Used 10000, Requested 1. Please try again in 1s.".to_owned(), "requests", json!("rate_limit_exceeded"), headers)
        }
        Behavior::QuotaExhausted => (429, "You exceeded your current quota, please check your plan and billing details.".to_owned(), "insufficient_quota", json!("insufficient_quota"), Vec::new()),
        Behavior::Unauthorized => (401, format!("Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."), "invalid_request_error", json!("invalid_api_key"), Vec::new()),
        Behavior::BadRequest => (400, "Invalid value for 'temperature': must be between 0 and 2.".to_owned(), "invalid_request_error", Value::Null, Vec::new()),
        Behavior::ContextLength => (400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 210000 tokens. Please reduce the length of the messages.".to_owned(), "invalid_request_error", json!("context_length_exceeded"), Vec::new()),
        Behavior::Overloaded => (503, "The engine is currently overloaded, please try again later.".to_owned(), "server_error", Value::Null, Vec::new()),
        Behavior::ServerError(status) => (status, "The server had an error while processing your request. Sorry about that!".to_owned(), "server_error", Value::Null, Vec::new()),
        Behavior::ErrorSaying(status, message) => (status, message, "server_error", Value::Null, Vec::new()),
        _ => (500, "unexpected scripted behaviour".to_owned(), "server_error", Value::Null, Vec::new()),
    };
    headers.push(("x-request-id", "req_testkit_error".to_owned()));
    let body = json!({"error": {"message": message, "type": etype, "param": if status == 400 { json!("messages") } else { Value::Null }, "code": code}});
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
        &headers,
    )
}

fn chunk(id: &str, model: &str, created: u64, choices: Value, usage: Value) -> String {
    let value = json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "system_fingerprint": "fp_testkit", "service_tier": "default",
        "choices": choices, "usage": usage, "obfuscation": "aZ3"
    });
    format!("data: {value}\n\n")
}

/// The answer to an OpenAI request.
pub(crate) fn respond(x: &Exchange<'_>, behavior: Behavior) -> Response<ReplyBody> {
    let model = x.model();
    let id = format!("chatcmpl-testkit{}", x.serial);
    let created = 1_767_225_600 + x.serial;
    let (headers, behavior) = match behavior {
        Behavior::HeadroomExhausted(reset) => (
            headroom_headers(0, REQUEST_LIMIT, &go_duration(reset)),
            Behavior::Ok,
        ),
        Behavior::Headroom(left, limit, reset) => (
            headroom_headers(left, limit, &go_duration(reset)),
            Behavior::Ok,
        ),
        other => (
            headroom_headers(REQUEST_LIMIT - 1, REQUEST_LIMIT, "6ms"),
            other,
        ),
    };
    let text = x.reply_text(&behavior);
    let prompt = x.prompt_tokens();
    let completion = completion_tokens(&text);
    let streamed_count = behavior.streamed_count();
    match &behavior {
        Behavior::ToolCalls(calls) => {
            return tool_calls(x, calls, false, &id, &model, created, &headers)
        }
        Behavior::ToolCallsCut(calls) => {
            return tool_calls(x, calls, true, &id, &model, created, &headers)
        }
        Behavior::Refusal(text) => {
            let body = json!({
                "id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": text, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
                "usage": usage(x.prompt_tokens(), 9)
            });
            return json(StatusCode::OK, &body, &headers);
        }
        _ => {}
    }
    match behavior {
        Behavior::Ok | Behavior::Reply(_) | Behavior::HeadroomExhausted(_) => {}
        Behavior::MalformedJson if !x.stream => {
            return raw(
                StatusCode::OK,
                "application/json",
                format!(
                    "{{\"id\":\"{id}\",\"object\":\"chat.completion\",\"choices\":[{{\"message\":"
                ),
                &headers,
            )
        }
        Behavior::MalformedJson => {
            return sse(
                vec![format!(
                    "data: {{\"id\":\"{id}\",\"choices\":[{{\"delta\":\n\n"
                )],
                Ending::Clean,
                &headers,
            )
        }
        _ if streamed_count.is_some() && x.stream => {}
        _ if streamed_count.is_some() => {}
        other => return error(other, x.key),
    }
    if !x.stream {
        let body = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
            "usage": usage(prompt, completion),
            "service_tier": "default", "system_fingerprint": "fp_testkit"
        });
        return json(StatusCode::OK, &body, &headers);
    }
    let include_usage = x
        .body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut events = vec![chunk(
        &id,
        &model,
        created,
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]),
        Value::Null,
    )];
    let all = pieces(&text);
    let take = streamed_count.unwrap_or(all.len()).min(all.len());
    for piece in &all[..take] {
        events.push(chunk(&id, &model, created, json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]), Value::Null));
    }
    match behavior {
        Behavior::CutAfter(_) => return sse(events, Ending::Cut, &headers),
        Behavior::EndWithoutTerminal(_) => return sse(events, Ending::Clean, &headers),
        Behavior::StallAfter(_) => return sse(events, Ending::Stall, &headers),
        Behavior::MidStreamError(_) => {
            events.push(format!("data: {}\n\n", json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}})));
            return sse(events, Ending::Clean, &headers);
        }
        _ => {}
    }
    events.push(chunk(
        &id,
        &model,
        created,
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
        Value::Null,
    ));
    if include_usage {
        events.push(chunk(
            &id,
            &model,
            created,
            json!([]),
            usage(prompt, completion),
        ));
    }
    events.push("data: [DONE]\n\n".to_owned());
    sse(events, Ending::Clean, &headers)
}

/// An answer that calls `calls`: one message with `tool_calls`, or a stream whose pieces
/// name each call first and then send its arguments in three parts.
fn tool_calls(
    x: &Exchange<'_>,
    calls: &[rotate_core::tool::ToolCall],
    cut: bool,
    id: &str,
    model: &str,
    created: u64,
    headers: &[(&'static str, String)],
) -> Response<ReplyBody> {
    let prompt = x.prompt_tokens();
    if !x.stream {
        let listed: Vec<Value> = calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        let body = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": listed, "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": usage(prompt, 12),
            "service_tier": "default", "system_fingerprint": "fp_testkit"
        });
        return json(StatusCode::OK, &body, headers);
    }
    let mut events = vec![chunk(
        id,
        model,
        created,
        json!([{"index": 0, "delta": {"role": "assistant", "content": null, "refusal": null}, "logprobs": null, "finish_reason": null}]),
        Value::Null,
    )];
    for (index, call) in calls.iter().enumerate() {
        events.push(chunk(id, model, created, json!([{"index": 0, "delta": {"tool_calls": [{"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}, "logprobs": null, "finish_reason": null}]), Value::Null));
        let text: Vec<char> = call.arguments.chars().collect();
        let third = text.len().div_ceil(3).max(1);
        for piece in text.chunks(third) {
            let piece: String = piece.iter().collect();
            events.push(chunk(id, model, created, json!([{"index": 0, "delta": {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, "logprobs": null, "finish_reason": null}]), Value::Null));
            if cut {
                return sse(events, Ending::Cut, headers);
            }
        }
    }
    events.push(chunk(
        id,
        model,
        created,
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}]),
        Value::Null,
    ));
    events.push(chunk(id, model, created, json!([]), usage(prompt, 12)));
    events.push("data: [DONE]\n\n".to_owned());
    sse(events, Ending::Clean, headers)
}
