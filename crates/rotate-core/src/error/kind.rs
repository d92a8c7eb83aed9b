//! [`ErrorKind`]: what kind of failure happened, its stable label, the status table
//! behind every adapter, and [`Disposition`]: what the engine does about the key.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of failure happened.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The key hit a rate limit (429, RESOURCE_EXHAUSTED per minute).
    RateLimited,
    /// The key's quota or credit is gone (insufficient_quota, daily quota, billing).
    QuotaExhausted,
    /// The key was refused (401, 403, API_KEY_INVALID).
    Auth,
    /// The request itself is wrong (400, 404 model, 413, 422).
    InvalidRequest,
    /// The prompt is longer than the model accepts.
    ContextLength,
    /// A safety or content-policy block.
    ContentFilter,
    /// A 5xx from the vendor.
    ServerError,
    /// The vendor says it is overloaded (529, 503 overloaded, shared capacity).
    Overloaded,
    /// The call or the stream took too long.
    Timeout,
    /// Connecting, TLS or the connection failed.
    Network,
    /// The vendor's answer could not be understood (malformed JSON, cut stream).
    Decode,
    /// The configuration is invalid, or the call cannot be served as configured.
    Configuration,
    /// No key is eligible for the call right now.
    NoAvailableKey,
    /// The client was closed.
    Closed,
    /// The state store failed.
    Store,
}

/// What the engine does with a key after an outcome of a given kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Cool the key down (rate limit); rotate to another key without spending retries.
    CoolDown,
    /// Quarantine the key (quota, auth); rotate to another key without spending retries.
    Quarantine,
    /// Count a failure against the key; retry elsewhere, spending the retry budget.
    CountFailure,
    /// The caller is at fault: no penalty for the key, stop at once.
    CallerFault,
}

impl ErrorKind {
    /// The stable snake_case name, used in logs and as the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Auth => "auth",
            Self::InvalidRequest => "invalid_request",
            Self::ContextLength => "context_length",
            Self::ContentFilter => "content_filter",
            Self::ServerError => "server_error",
            Self::Overloaded => "overloaded",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Decode => "decode",
            Self::Configuration => "configuration",
            Self::NoAvailableKey => "no_available_key",
            Self::Closed => "closed",
            Self::Store => "store",
        }
    }

    /// The kind an HTTP status names on its own: the one table every adapter falls back
    /// to once the vendor's body has said nothing more specific, and what
    /// `ReportedError::from_status` (in `acquire`) uses.
    ///
    /// ```
    /// use rotate_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimited);
    /// assert_eq!(ErrorKind::from_status(529), ErrorKind::Overloaded);
    /// assert_eq!(ErrorKind::from_status(404), ErrorKind::InvalidRequest);
    /// ```
    pub fn from_status(status: u16) -> Self {
        match status {
            429 => Self::RateLimited,
            401 | 403 => Self::Auth,
            402 | 412 => Self::QuotaExhausted,
            408 => Self::Timeout,
            409 => Self::ServerError,
            498 | 503 | 529 => Self::Overloaded,
            499 => Self::Network,
            400..=499 => Self::InvalidRequest,
            _ => Self::ServerError,
        }
    }

    /// What to do about the key that produced this outcome.
    pub fn disposition(self) -> Disposition {
        match self {
            Self::RateLimited => Disposition::CoolDown,
            Self::QuotaExhausted | Self::Auth => Disposition::Quarantine,
            Self::ServerError | Self::Overloaded | Self::Timeout | Self::Network | Self::Decode => {
                Disposition::CountFailure
            }
            Self::InvalidRequest
            | Self::ContextLength
            | Self::ContentFilter
            | Self::Configuration
            | Self::NoAvailableKey
            | Self::Closed
            | Self::Store => Disposition::CallerFault,
        }
    }

    /// True when the failure belongs to the key rather than to the request: another key
    /// may well succeed, and trying it does not spend the retry budget.
    pub fn is_key_specific(self) -> bool {
        matches!(
            self.disposition(),
            Disposition::CoolDown | Disposition::Quarantine
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
