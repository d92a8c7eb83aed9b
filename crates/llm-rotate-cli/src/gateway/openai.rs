//! `POST /v1/chat/completions`, `GET /v1/models` and `/v1/models/{id}` in OpenAI's wire format: the request
//! becomes a `chat` (or `chat_stream`) call, the answer a `chat.completion` object or
//! `chat.completion.chunk` events ending in `data: [DONE]`.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{Response, StatusCode};
use llm_rotate::{Clock, LMRotate, StreamChunk, SystemClock, Usage};
use serde::Serialize;
use serde_json::{json, Value};

use self::body::{Chunk, Completion};
pub use self::request::{parse, ChatCompletion};
use super::answer::{served, streamed, Translation};
use super::http::{json_response, write_sse_event, ApiError, Body, Dialect};

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
        let (provider, key, latency) = (&answer.provider, &answer.key_id, answer.latency_ms);
        return Ok(if answer.passthrough {
            served(&answer.raw, provider, key, latency)
        } else {
            let id = completion_id();
            served(
                &Completion::of(&answer, &id, now_secs()),
                provider,
                key,
                latency,
            )
        });
    }
    let stream = client
        .chat_stream(&request.model, &request.messages, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let translation = Chunks {
        id: completion_id(),
        created: now_secs(),
        include_usage: request.include_usage,
        first: true,
        usage: None,
    };
    Ok((streamed(stream, translation), None))
}

/// A stream from a key of another vendor as `chat.completion.chunk` events: the role on
/// the first, the usage chunk when the client asked for it, `data: [DONE]` at the end.
struct Chunks {
    id: String,
    created: u64,
    include_usage: bool,
    first: bool,
    usage: Option<Usage>,
}

impl Translation for Chunks {
    fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let first = std::mem::replace(&mut self.first, false);
        write_event(out, &Chunk::delta(chunk, &self.id, self.created, first));
        if chunk.finish_reason.is_some() && self.include_usage {
            if let Some(u) = &self.usage {
                write_event(out, &Chunk::usage(u, &chunk.model, &self.id, self.created));
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// The error event; a translated stream still closes with `[DONE]` after it (a
    /// passed-through one ends as the upstream left it).
    fn error(&mut self, error: &ApiError, passed_through: bool, out: &mut Vec<u8>) {
        write_event(out, &error.body(DIALECT));
        if !passed_through {
            self.finish(out);
        }
    }
}

/// Appends one SSE `data:` event holding `value` as JSON, framed as OpenAI frames it.
fn write_event(out: &mut Vec<u8>, value: &impl Serialize) {
    write_sse_event(out, value, b"\n\n");
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
