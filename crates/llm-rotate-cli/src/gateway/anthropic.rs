//! `POST /v1/messages` and `POST /v1/messages/count_tokens` in Anthropic's wire format
//! (the Anthropic SDKs, Claude Code): the request becomes a `chat` (or `chat_stream`)
//! call on whichever key the model routes to, of any vendor, and the answer a
//! `message` object or Anthropic's event stream. Errors take Anthropic's shape.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, Response, StatusCode};
use llm_rotate::LMRotate;
use serde_json::json;

use self::reply::EventWriter;
pub use self::request::parse;
use super::answer::{served, streamed};
use super::http::{json_response, ApiError, Body, Dialect};
use super::settings::CallHints;

mod reply;
mod request;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn message_id() -> String {
    format!("msg_llmr{:016}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// The client headers Anthropic keys receive with its body.
pub const FORWARDED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// Serves a Messages request body, sent with `headers`; `hints` (a session header's
/// affinity wins over the body's `metadata.user_id`) apply to the call.
pub async fn messages(
    client: &LMRotate,
    body: &[u8],
    headers: &HeaderMap,
    hints: CallHints,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    let mut request = parse(body)?;
    hints.apply(&mut request.options, &request.model)?;
    if let Some(pass) = request.options.passthrough.take() {
        let forwarded = FORWARDED_HEADERS.iter().filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some((*name, value))
        });
        request.options.passthrough =
            Some(forwarded.fold(pass, |pass, (name, value)| pass.header(name, value)));
    }
    if !request.stream {
        let answer = client
            .chat(&request.model, &request.messages, request.options)
            .await
            .map_err(|e| ApiError::from(&e))?;
        let (provider, key, latency) = (&answer.provider, &answer.key_id, answer.latency_ms);
        return Ok(if answer.passthrough {
            served(&answer.raw, provider, key, latency)
        } else {
            served(
                &reply::message(&answer, &message_id()),
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
    Ok((streamed(stream, EventWriter::new(message_id())), None))
}

/// `count_tokens`: an estimate made here (about four characters a token), since the
/// request may be served by any vendor.
pub fn count_tokens(body: &[u8]) -> Result<Response<Body>, ApiError> {
    let mut body: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    // count_tokens takes no max_tokens; the shared reader needs one
    if let Some(fields) = body.as_object_mut() {
        fields.entry("max_tokens").or_insert(json!(1));
    }
    let request = parse(body.to_string().as_bytes())?;
    let tokens = request::estimate_tokens(&request);
    Ok(json_response(
        StatusCode::OK,
        &json!({"input_tokens": tokens}),
    ))
}

/// Anthropic's error `type` for a status.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// Errors of these routes speak Anthropic's shape.
pub const DIALECT: Dialect = Dialect::Anthropic;
