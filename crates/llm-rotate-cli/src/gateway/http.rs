//! HTTP plumbing of the gateway: the body type, reading a request body under the size
//! limit, JSON and SSE responses, errors in OpenAI's, Google's and Anthropic's shapes
//! with the status that matches the failure (every 429 with `Retry-After`), and token
//! checks in constant time.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use llm_rotate::core::error::with_causes;
use llm_rotate::core::error::VendorError;
use llm_rotate::{LMRotateError, Secret, WireDialect};
use serde_json::json;
use subtle::ConstantTimeEq;

/// The body of every gateway response.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A response with a JSON body.
pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    // serializing plain structs and maps to memory cannot fail
    let body = serde_json::to_vec(value).unwrap_or_default();
    bytes_response(status, "application/json", Bytes::from(body))
}

/// A response with a literal body.
pub fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response
}

/// Appends one SSE `data:` event holding `value` as JSON, ended by `end` (`\n\n` or
/// `\r\n\r\n`, as the vendor being imitated frames its events).
pub fn write_sse_event(out: &mut Vec<u8>, value: &impl serde::Serialize, end: &[u8]) {
    out.extend_from_slice(b"data: ");
    // serializing plain structs and maps to memory cannot fail
    let _ = serde_json::to_writer(&mut *out, value);
    out.extend_from_slice(end);
}

/// An event-stream response whose frames come from `events`.
pub fn sse_response<S>(events: S) -> Response<Body>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    use futures_util::StreamExt;
    let body = StreamBody::new(events.map(|b| Ok::<_, Infallible>(Frame::data(b))));
    let mut response = Response::new(BodyExt::boxed_unsync(body));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    response
}

/// Which error shape a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `{"error": {"code", "message", "status"}}` (google.rpc).
    Google,
    /// `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
}

impl Dialect {
    /// The library's name for the wire format.
    pub fn wire(self) -> WireDialect {
        match self {
            Self::OpenAi => WireDialect::OpenAiChat,
            Self::Google => WireDialect::Gemini,
            Self::Anthropic => WireDialect::Anthropic,
        }
    }
}

/// A gateway error: status, OpenAI `type`, `code`, message and an optional wait.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
    /// What the upstream said of a caller's-fault 4xx: its body goes back whole to a
    /// client of its dialect, its `type` / `code` / `param` to the others.
    pub vendor: Option<Box<VendorError>>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            vendor: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }

    /// The error body in `dialect` (the upstream's `type`, `code` and `param` kept).
    pub fn body(&self, dialect: Dialect) -> serde_json::Value {
        let vendor = self.vendor.as_ref();
        let said = |pick: fn(&VendorError) -> &Option<String>| vendor.and_then(|v| pick(v).clone());
        match dialect {
            Dialect::OpenAi => {
                let kind = said(|v| &v.error_type).unwrap_or_else(|| self.kind.to_owned());
                let code = said(|v| &v.code).unwrap_or_else(|| self.code.clone());
                json!({"error": {"message": self.message, "type": kind, "param": said(|v| &v.param), "code": code}})
            }
            Dialect::Google => {
                json!({"error": {"code": self.status.as_u16(), "message": self.message, "status": google_status(self.status)}})
            }
            Dialect::Anthropic => {
                let kind = said(|v| &v.error_type).unwrap_or_else(|| {
                    crate::gateway::anthropic::error_type(self.status).to_owned()
                });
                json!({"type": "error", "error": {"type": kind, "message": self.message}})
            }
        }
    }

    /// The error as a response in `dialect`.
    pub fn into_response(self, dialect: Dialect) -> Response<Body> {
        if let Some(body) = self
            .vendor
            .as_ref()
            .filter(|v| v.dialect == Some(dialect.wire()))
            .and_then(|v| v.body.as_ref())
        {
            return bytes_response(self.status, "application/json", Bytes::from(body.clone()));
        }
        let body = self.body(dialect);
        // every 429 says when to come back: the vendor's wait, the soonest key's, or a second
        let retry_after = match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                Some(self.retry_after.unwrap_or(Duration::from_secs(1)))
            }
            _ => self.retry_after,
        };
        let mut response = json_response(self.status, &body);
        if let Some(wait) = retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}

fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        402 | 429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// The status and shape of a library error.
impl From<&LMRotateError> for ApiError {
    fn from(error: &LMRotateError) -> Self {
        use llm_rotate::ErrorKind;
        match error {
            LMRotateError::NoAvailableKey(e) if e.providers.is_empty() => Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!("The model `{}` is not served by this gateway.", e.model),
            ),
            LMRotateError::NoAvailableKey(e) => {
                let mut api = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "no_available_key",
                    with_causes(error),
                );
                api.retry_after = e.retry_in;
                api
            }
            LMRotateError::Provider(e) => {
                let status = match e.kind {
                    ErrorKind::ContextLength | ErrorKind::ContentFilter => StatusCode::BAD_REQUEST,
                    _ => e
                        .status
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .filter(StatusCode::is_client_error)
                        .unwrap_or(StatusCode::BAD_REQUEST),
                };
                let mut api = Self::new(
                    status,
                    "invalid_request_error",
                    e.kind.as_str(),
                    with_causes(error),
                );
                api.vendor = e.vendor.clone();
                api
            }
            LMRotateError::Configuration(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "configuration",
                with_causes(error),
            ),
            LMRotateError::DeadlineExceeded { .. } => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                "timeout",
                with_causes(error),
            ),
            LMRotateError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "closed",
                "the gateway is shutting down",
            ),
            other => {
                let rate_limited = matches!(other, LMRotateError::Exhausted { attempts } if attempts.iter().all(|a| matches!(a.error.kind, ErrorKind::RateLimited | ErrorKind::QuotaExhausted)));
                if rate_limited {
                    let mut api = Self::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate_limit_error",
                        "upstream_rate_limited",
                        with_causes(other),
                    );
                    if let LMRotateError::Exhausted { attempts } = other {
                        api.retry_after = attempts.iter().filter_map(|a| a.error.retry_after).min();
                    }
                    api
                } else {
                    Self::new(
                        StatusCode::BAD_GATEWAY,
                        "server_error",
                        other.kind().as_str(),
                        with_causes(other),
                    )
                }
            }
        }
    }
}

/// Reads a whole request body of at most `limit` bytes (413 above it).
pub async fn read_body(body: Incoming, headers: &HeaderMap, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("The request body is larger than this gateway accepts ({limit} bytes)."),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit_usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body could not be read: {e}"
        ))),
    }
}

/// The token a client presented: `Authorization: Bearer`, `x-goog-api-key`, `api-key`
/// or `x-api-key`.
pub fn presented_token(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let bytes = value.as_bytes();
        return bytes
            .strip_prefix(b"Bearer ")
            .or_else(|| bytes.strip_prefix(b"bearer "));
    }
    ["x-goog-api-key", "api-key", "x-api-key"]
        .iter()
        .find_map(|name| headers.get(*name))
        .map(HeaderValue::as_bytes)
}

/// Whether `presented` equals one of `tokens`, comparing every token in constant time.
pub fn token_matches(presented: Option<&[u8]>, tokens: &[Secret]) -> bool {
    token_position(presented, tokens.iter()).is_some()
}

/// Which of `tokens` `presented` equals, comparing every token in constant time.
pub fn token_position<'a>(
    presented: Option<&[u8]>,
    tokens: impl Iterator<Item = &'a Secret>,
) -> Option<usize> {
    use subtle::ConditionallySelectable;
    let presented = presented?;
    let mut found = u64::MAX;
    for (i, token) in tokens.enumerate() {
        let equal = token.expose().as_bytes().ct_eq(presented);
        found.conditional_assign(&(i as u64), equal);
    }
    usize::try_from(found).ok().filter(|_| found != u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let tokens = [Secret::new("gw-one"), Secret::new("gw-two")];
        assert!(token_matches(Some(b"gw-two"), &tokens));
        assert!(!token_matches(Some(b"gw-tw"), &tokens));
        assert!(!token_matches(Some(b"gw-two "), &tokens));
        assert!(!token_matches(None, &tokens));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer gw-one"));
        assert_eq!(presented_token(&headers), Some(&b"gw-one"[..]));
        let mut headers = HeaderMap::new();
        headers.insert("x-goog-api-key", HeaderValue::from_static("gw-two"));
        assert_eq!(presented_token(&headers), Some(&b"gw-two"[..]));
    }
}
