//! `POST /v1/responses` (OpenAI's Responses API: Codex, the Agents SDK): to OpenAI and
//! Azure keys the body goes whole and the answer, JSON or `response.*` events, comes
//! back as sent; to keys of other vendors the text, image, PDF, function-tool and
//! reasoning-effort subset is translated and the answer written as Responses. What
//! only OpenAI can carry (stored state, built-in tools) keeps the request on its keys.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use llm_rotate::{Clock, LMRotate, StreamChunk, SystemClock};

use self::reply::EventWriter;
pub use self::request::parse;
use super::http::{json_response, sse_response, ApiError, Body};
use super::openai::name_the_key;

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
        let body = if answer.passthrough {
            answer.raw.clone()
        } else {
            reply::whole(&answer, &response_id(), created)
        };
        let mut response = json_response(StatusCode::OK, &body);
        name_the_key(&mut response, &answer.provider, &answer.key_id);
        return Ok((response, Some(answer.latency_ms)));
    }
    let stream = client
        .chat_stream(&request.model, &request.messages, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let writer = EventWriter::new(response_id(), created);
    let events = futures_util::stream::unfold(Some((stream, writer, false)), |state| async move {
        let (mut stream, mut writer, passing) = state?;
        let mut out = Vec::new();
        match stream.next().await {
            // OpenAI's own events, `response.completed` included
            Some(Ok(StreamChunk { raw: Some(raw), .. })) => {
                Some((Bytes::from(raw), Some((stream, writer, true))))
            }
            Some(Ok(_)) if passing => Some((Bytes::new(), Some((stream, writer, true)))),
            Some(Ok(chunk)) => {
                writer.chunk(&chunk, &mut out);
                Some((Bytes::from(out), Some((stream, writer, false))))
            }
            Some(Err(error)) => {
                let api = ApiError::from(&error);
                writer.error(&mut out, &api.code, &api.message);
                Some((Bytes::from(out), None))
            }
            None if passing => None,
            None => {
                writer.finish(&mut out);
                Some((Bytes::from(out), None))
            }
        }
    });
    Ok((sse_response(events), None))
}
