//! Building a [`ProviderError`] from what a vendor answered: a status and its wait, a
//! malformed body, a message shortened for logs, an echoed key removed.

use http::{HeaderMap, StatusCode};
use rotate_core::error::{Disposition, ErrorKind, ProviderError, VendorError};
use rotate_core::passthrough::WireDialect;
use rotate_core::provider::Headroom;
use rotate_core::secret::Secret;
use serde_json::Value;

/// The longest error message kept from a vendor body.
const MAX_MESSAGE_CHARS: usize = 500;

/// A failed answer as a [`ProviderError`]: the kind, the vendor's message (or the
/// status's reason when it said nothing), the status, and the wait: the full wait hint
/// for rate limits and overloads, a plain `Retry-After` otherwise.
pub fn status_error(
    kind: ErrorKind,
    message: String,
    status: StatusCode,
    headers: &HeaderMap,
    headroom: Option<&Headroom>,
    now_unix_ms: u64,
) -> ProviderError {
    let retry_after = match kind {
        ErrorKind::RateLimited | ErrorKind::Overloaded => {
            crate::ratelimit::wait_hint(headers, &message, headroom, now_unix_ms)
        }
        // a spent credit comes back when someone pays, not after a wait
        ErrorKind::QuotaExhausted => None,
        _ => crate::ratelimit::retry_after(headers, now_unix_ms),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    ProviderError::new(kind, message)
        .with_status(status.as_u16())
        .with_retry_after(retry_after)
}

/// A malformed body as a `Decode` error.
pub fn malformed(what: &str, error: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::Decode, format!("malformed {what}: {error}"))
}

/// Shortens a vendor message for errors and logs.
pub fn shorten(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    short.push('…');
    short
}

/// Removes a key a vendor echoed back from an error message and the body kept.
pub fn scrub(mut error: ProviderError, secret: &Secret) -> ProviderError {
    let value = secret.expose();
    if value.len() >= 8 && error.message.contains(value) {
        error.message = error.message.replace(value, &secret.mask());
    }
    if let Some(body) = error.vendor.as_mut().and_then(|v| v.body.as_mut()) {
        if value.len() >= 8 && body.contains(value) {
            *body = body.replace(value, &secret.mask());
        }
    }
    error
}

/// The largest vendor error body kept for passing on.
const MAX_VENDOR_BODY: usize = 64 * 1024;

/// Keeps what a 4xx answer's body said, written in `dialect` (see [`VendorError`]), when
/// the caller is at fault: only then is it passed on. Rate limits and auth failures,
/// which move the call to another key, skip the second read of the body.
pub fn with_vendor(
    error: ProviderError,
    dialect: Option<WireDialect>,
    status: StatusCode,
    body: &[u8],
) -> ProviderError {
    if !status.is_client_error() || error.kind.disposition() != Disposition::CallerFault {
        return error;
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let inner = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object());
    let text = |name: &str| {
        inner
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let kept = (parsed.is_some() && body.len() <= MAX_VENDOR_BODY)
        .then(|| String::from_utf8_lossy(body).into_owned());
    error.with_vendor(VendorError {
        dialect,
        error_type: text("type").or_else(|| text("status")),
        code: text("code"),
        param: text("param"),
        body: kept,
    })
}
