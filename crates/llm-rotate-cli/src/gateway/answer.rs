//! How every route answers a served call, whichever dialect it speaks: a whole answer as
//! JSON naming the provider and key that served it, and a streamed one as the
//! upstream's own events when the call passed through, else as the route's
//! [`Translation`] of each chunk, its closing events and its error event.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use llm_rotate::{ChatStream, StreamChunk};
use serde::Serialize;

use super::http::{json_response, sse_response, ApiError, Body};

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

/// A whole answer: `body` as JSON, naming the key, with the call's latency for metrics.
pub fn served(
    body: &impl Serialize,
    provider: &str,
    key_id: &str,
    latency_ms: f64,
) -> (Response<Body>, Option<f64>) {
    let mut response = json_response(StatusCode::OK, body);
    name_the_key(&mut response, provider, key_id);
    (response, Some(latency_ms))
}

/// How a route writes a stream whose key spoke another dialect.
pub trait Translation: Send + 'static {
    /// The events one chunk adds.
    fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>);

    /// The closing events of a stream that ended cleanly.
    fn finish(&mut self, out: &mut Vec<u8>);

    /// The event of a stream that failed; `passed_through` when the events before it
    /// were the upstream's own.
    fn error(&mut self, error: &ApiError, passed_through: bool, out: &mut Vec<u8>);
}

/// The SSE response of `stream`: the upstream's events as received (its end included)
/// when the call passed through, else `translation`'s.
pub fn streamed(stream: ChatStream, translation: impl Translation) -> Response<Body> {
    let events =
        futures_util::stream::unfold(Some((stream, translation, false)), |state| async move {
            let (mut stream, mut translation, passing) = state?;
            let mut out = Vec::new();
            match stream.next().await {
                Some(Ok(StreamChunk { raw: Some(raw), .. })) => {
                    Some((Bytes::from(raw), Some((stream, translation, true))))
                }
                // a second delta of one upstream event: its event went out with the first
                Some(Ok(_)) if passing => Some((Bytes::new(), Some((stream, translation, true)))),
                Some(Ok(chunk)) => {
                    translation.chunk(&chunk, &mut out);
                    Some((Bytes::from(out), Some((stream, translation, false))))
                }
                Some(Err(error)) => {
                    translation.error(&ApiError::from(&error), passing, &mut out);
                    Some((Bytes::from(out), None))
                }
                None if passing => None,
                None => {
                    translation.finish(&mut out);
                    Some((Bytes::from(out), None))
                }
            }
        });
    sse_response(events)
}
