//! `POST /v1/chat/completions`, `GET /v1/models` and `/v1/models/{id}` in OpenAI's wire format: the request
//! becomes a `chat` (or `chat_stream`) call, the answer a `chat.completion` object or
//! `chat.completion.chunk` events ending in `data: [DONE]`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use llm_rotate::{Clock, LMRotate, StreamChunk, SystemClock, Usage};
use serde::Serialize;
use serde_json::{json, Value};

use self::body::{Chunk, Completion};
pub use self::request::{parse, ChatCompletion};
use super::http::{json_response, sse_response, write_sse_event, ApiError, Body, Dialect};

mod body;
mod options;
mod request;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn completion_id() -> String {
    format!("chatcmpl-llmr{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

fn now_secs() -> u64 {
    SystemClock.unix_ms() / 1000
}

/// Serves a parsed request.
pub async fn complete(
    client: &LMRotate,
    request: ChatCompletion,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    if !request.stream {
        let answer = client
            .chat(&request.model, &request.messages, request.options)
            .await
            .map_err(|e| ApiError::from(&e))?;
        let mut response = if answer.passthrough {
            json_response(StatusCode::OK, &answer.raw)
        } else {
            let id = completion_id();
            json_response(StatusCode::OK, &Completion::of(&answer, &id, now_secs()))
        };
        name_the_key(&mut response, &answer.provider, &answer.key_id);
        return Ok((response, Some(answer.latency_ms)));
    }
    let stream = client
        .chat_stream(&request.model, &request.messages, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let id = completion_id();
    let created = now_secs();
    let include_usage = request.include_usage;
    let mut first = true;
    let mut usage: Option<Usage> = None;
    // a passthrough stream carries the upstream's own events, `[DONE]` included
    let passed = Arc::new(AtomicBool::new(false));
    let saw_raw = passed.clone();
    let events = stream
        .map(move |item| match item {
            Ok(StreamChunk { raw: Some(raw), .. }) => {
                saw_raw.store(true, Ordering::Relaxed);
                Bytes::from(raw)
            }
            // a second delta of one upstream event: its event went out with the first
            Ok(_) if saw_raw.load(Ordering::Relaxed) => Bytes::new(),
            Ok(chunk) => {
                if chunk.usage.is_some() {
                    usage = chunk.usage;
                }
                let first = std::mem::replace(&mut first, false);
                let mut out = Vec::new();
                write_event(&mut out, &Chunk::delta(&chunk, &id, created, first));
                if chunk.finish_reason.is_some() && include_usage {
                    if let Some(u) = &usage {
                        write_event(&mut out, &Chunk::usage(u, &chunk.model, &id, created));
                    }
                }
                Bytes::from(out)
            }
            Err(error) => {
                let api = ApiError::from(&error);
                let mut out = Vec::new();
                write_event(&mut out, &json!({"error": {"message": api.message, "type": api.kind, "param": null, "code": api.code}}));
                Bytes::from(out)
            }
        })
        .chain(futures_util::stream::once(async move {
            if passed.load(Ordering::Relaxed) {
                Bytes::new()
            } else {
                Bytes::from_static(b"data: [DONE]\n\n")
            }
        }));
    Ok((sse_response(events), None))
}

/// Appends one SSE `data:` event holding `value` as JSON, framed as OpenAI frames it.
fn write_event(out: &mut Vec<u8>, value: &impl Serialize) {
    write_sse_event(out, value, b"\n\n");
}

/// Says which provider and key served (ids only, never values).
pub fn name_the_key(response: &mut Response<Body>, provider: &str, key_id: &str) {
    for (name, value) in [
        ("x-llm-rotate-provider", provider),
        ("x-llm-rotate-key-id", key_id),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// `GET /v1/models`: every model name the config answers to.
pub fn models(served: &[llm_rotate::ServedModel]) -> Response<Body> {
    let data: Vec<Value> = served
        .iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by}))
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}`: one served model, or a 404 in OpenAI's shape.
pub fn model(served: &[llm_rotate::ServedModel], id: &str) -> Response<Body> {
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    match served.iter().find(|m| m.id == id) {
        Some(m) => json_response(
            StatusCode::OK,
            &json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by}),
        ),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("The model `{id}` does not exist or is not served by this gateway."),
        )
        .into_response(DIALECT),
    }
}

/// Errors of these routes speak OpenAI's shape.
pub const DIALECT: Dialect = Dialect::OpenAi;
