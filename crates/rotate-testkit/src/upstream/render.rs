//! Response building shared by the fake protocols: JSON bodies, SSE bodies with their
//! ending (clean, cut, stalled), and the deterministic reply text and token counts.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;

use super::Behavior;

/// The body type of every fake response.
pub type ReplyBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// What one request asked.
pub(crate) struct Exchange<'a> {
    pub(crate) key: &'a str,
    pub(crate) body: &'a Value,
    pub(crate) stream: bool,
    pub(crate) serial: u64,
}

impl Exchange<'_> {
    pub(crate) fn model(&self) -> String {
        self.body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("unknown-model")
            .to_owned()
    }

    /// `ok from {key}`, or the scripted text.
    pub(crate) fn reply_text(&self, behavior: &Behavior) -> String {
        match behavior {
            Behavior::Reply(text) => text.clone(),
            _ => format!("ok from {}", self.key),
        }
    }

    /// Prompt tokens: one per four characters of every message, plus one per message.
    pub(crate) fn prompt_tokens(&self) -> u64 {
        let mut chars = 0usize;
        let mut messages = 0u64;
        if let Some(list) = self.body.get("messages").and_then(Value::as_array) {
            for m in list {
                messages += 1;
                chars += m.get("content").map_or(0, |c| match c {
                    Value::String(s) => s.chars().count(),
                    other => other.to_string().len(),
                });
            }
        }
        if let Some(system) = self.body.get("system").and_then(Value::as_str) {
            chars += system.chars().count();
        }
        (chars as u64).div_ceil(4) + messages
    }
}

/// The pieces a reply streams as: one per word, spaces kept.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// Completion tokens of a reply: one per piece.
pub(crate) fn completion_tokens(text: &str) -> u64 {
    pieces(text).len() as u64
}

fn with_headers(
    mut response: Response<ReplyBody>,
    headers: &[(&str, String)],
) -> Response<ReplyBody> {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A JSON response.
pub(crate) fn json(
    status: StatusCode,
    value: &Value,
    headers: &[(&str, String)],
) -> Response<ReplyBody> {
    raw(status, "application/json", value.to_string(), headers)
}

/// A response with a literal body.
pub(crate) fn raw(
    status: StatusCode,
    content_type: &str,
    body: String,
    headers: &[(&str, String)],
) -> Response<ReplyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    with_headers(response, headers)
}

/// How a stream ends.
pub(crate) enum Ending {
    /// The body ends normally after the events.
    Clean,
    /// The connection breaks after the events.
    Cut,
    /// Nothing more is sent, and the body never ends.
    Stall,
}

/// An SSE response: each string is one already-framed event, sent as its own frame.
pub(crate) fn sse(
    events: Vec<String>,
    ending: Ending,
    headers: &[(&str, String)],
) -> Response<ReplyBody> {
    let mut response = binary_stream(
        events.into_iter().map(String::into_bytes).collect(),
        ending,
        "text/event-stream; charset=utf-8",
        headers,
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    response
}

/// A streamed response of `content_type`: each piece is sent as its own frame.
pub(crate) fn binary_stream(
    pieces: Vec<Vec<u8>>,
    ending: Ending,
    content_type: &'static str,
    headers: &[(&str, String)],
) -> Response<ReplyBody> {
    let frames =
        futures_util::stream::iter(pieces.into_iter().map(|e| Ok(Frame::data(Bytes::from(e)))));
    let body: ReplyBody = match ending {
        Ending::Clean => StreamBody::new(frames).boxed_unsync(),
        Ending::Cut => StreamBody::new(frames.chain(futures_util::stream::once(async {
            // let the frames reach the socket before the connection breaks
            pause(std::time::Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "scripted cut",
            ))
        })))
        .boxed_unsync(),
        Ending::Stall => {
            StreamBody::new(frames.chain(futures_util::stream::pending())).boxed_unsync()
        }
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    with_headers(response, headers)
}

/// `Retry-After` headers for a wait: whole seconds in `retry-after`, finer waits also in `retry-after-ms`.
pub(crate) fn retry_headers(wait: Option<std::time::Duration>) -> Vec<(&'static str, String)> {
    match wait {
        None => Vec::new(),
        Some(wait) => vec![
            ("retry-after", wait.as_secs_f64().ceil().to_string()),
            ("retry-after-ms", wait.as_millis().to_string()),
        ],
    }
}

/// Waits in real time (scripted upstream latency and flushing are real time by design).
#[allow(clippy::disallowed_methods)]
pub(crate) async fn pause(wait: std::time::Duration) {
    tokio::time::sleep(wait).await;
}
