//! `POST /v1/responses` (OpenAI's Responses API: Codex, the Agents SDK): to OpenAI and
//! Azure keys the body goes whole and the answer, JSON or `response.*` events, comes
//! back as sent; to keys of other vendors the text, image, PDF, function-tool and
//! reasoning-effort subset is translated and the answer written as Responses. What
//! only OpenAI can carry (stored state, built-in tools) keeps the request on its keys.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use http::Response;
use llm_rotate::{ChatStream, Clock, LMRotate, SystemClock};

use self::reply::EventWriter;
pub use self::request::parse;
use super::answer::{served, streamed};
use super::http::{ApiError, Body};
use super::settings::CallHints;

mod reply;
mod request;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn response_id() -> String {
    format!("resp_llmr{:016}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// The response id of a `response.created` event among the SSE `events`.
fn created_id(events: &str) -> Option<String> {
    events
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data.trim()).ok())
        .find(|event| {
            event.get("type").and_then(serde_json::Value::as_str) == Some("response.created")
        })
        .and_then(|event| Some(event.get("response")?.get("id")?.as_str()?.to_owned()))
}

/// Serves a Responses request body; `hints` apply to the call (a session header's
/// affinity wins over the body's `prompt_cache_key`, but not over
/// `previous_response_id`: a stored response is continued on the key that made it
/// while that key is eligible).
pub async fn serve(
    client: &LMRotate,
    body: &[u8],
    mut hints: CallHints,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    let mut request = parse(body)?;
    if request.continues {
        hints.affinity = None;
    }
    hints.apply(&mut request.options, &request.model)?;
    let created = SystemClock.unix_ms() / 1000;
    if !request.stream {
        let answer = client
            .chat(&request.model, &request.messages, request.options)
            .await
            .map_err(|e| ApiError::from(&e))?;
        let (provider, key, latency) = (&answer.provider, &answer.key_id, answer.latency_ms);
        return Ok(if answer.passthrough {
            if let Some(id) = answer.raw.get("id").and_then(serde_json::Value::as_str) {
                client.remember_affinity(id, key);
            }
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
    let mut stream = client
        .chat_stream(&request.model, &request.messages, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    // the upstream's `response.created` arrives with the first chunk: pin its id
    let key = stream.key_id().to_owned();
    let first = stream.next().await;
    if let Some(id) = first
        .as_ref()
        .and_then(|c| c.as_ref().ok()?.raw.as_deref())
        .and_then(created_id)
    {
        client.remember_affinity(&id, &key);
    }
    let stream = ChatStream::new(futures_util::stream::iter(first).chain(stream));
    Ok((
        streamed(stream, EventWriter::new(response_id(), created)),
        None,
    ))
}
