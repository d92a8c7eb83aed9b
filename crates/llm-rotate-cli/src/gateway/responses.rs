//! `POST /v1/responses` (OpenAI's Responses API: Codex, the Agents SDK): to OpenAI and
//! Azure keys the body goes whole and the answer, JSON or `response.*` events, comes
//! back as sent; to keys of other vendors the text, image, PDF, function-tool and
//! reasoning-effort subset is translated and the answer written as Responses. What
//! only OpenAI can carry (stored state, built-in tools) keeps the request on its keys.

use std::sync::atomic::{AtomicU64, Ordering};

use http::Response;
use llm_rotate::{Clock, LMRotate, SystemClock};

use self::reply::EventWriter;
pub use self::request::parse;
use super::answer::{served, streamed};
use super::http::{ApiError, Body};

mod reply;
mod request;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn response_id() -> String {
    format!("resp_llmr{:016}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Serves a Responses request body.
pub async fn serve(
    client: &LMRotate,
    body: &[u8],
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    let request = parse(body)?;
    let created = SystemClock.unix_ms() / 1000;
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
                &reply::whole(&answer, &response_id(), created),
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
    Ok((
        streamed(stream, EventWriter::new(response_id(), created)),
        None,
    ))
}
