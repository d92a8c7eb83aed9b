//! `acquire()`: borrow a raw key, use it with any client, report the outcome back.
//!
//! [`AcquireContext`] is a guard. `report_success` and `report_error` feed the health
//! machine exactly as a call through the engine would; dropping the guard without a
//! report frees the in-flight slot and records nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;

use crate::error::{ErrorKind, LMRotateError, ProviderError};
use crate::lease::Lease;
use crate::response::Usage;

/// An outcome reported for an acquired key: a status code is enough.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedError {
    kind: ErrorKind,
    status: Option<u16>,
    retry_after: Option<Duration>,
    message: String,
}

impl ReportedError {
    /// Classifies an HTTP status with the table the adapters fall back to
    /// ([`ErrorKind::from_status`]): 429 rate limit, 401/403 auth, 402 quota, 408
    /// timeout, 503/529 overloaded, other 5xx server error, other 4xx the caller's fault.
    pub fn from_status(status: u16) -> Self {
        let kind = ErrorKind::from_status(status);
        Self {
            kind,
            status: Some(status),
            retry_after: None,
            message: format!("status {status}"),
        }
    }

    /// An outcome of a known kind.
    pub fn from_kind(kind: ErrorKind) -> Self {
        Self {
            kind,
            status: None,
            retry_after: None,
            message: kind.as_str().to_owned(),
        }
    }

    /// The wait the vendor asked for (429 Retry-After).
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// A description (must not contain the key).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<&LMRotateError> for ReportedError {
    fn from(error: &LMRotateError) -> Self {
        Self {
            kind: error.kind(),
            status: error.status(),
            retry_after: error.retry_after(),
            message: error.to_string(),
        }
    }
}

impl From<&ProviderError> for ReportedError {
    fn from(error: &ProviderError) -> Self {
        Self {
            kind: error.kind,
            status: error.status,
            retry_after: error.retry_after,
            message: error.message.clone(),
        }
    }
}

/// A borrowed key. Use [`key_value`](Self::key_value) with any client, then report.
pub struct AcquireContext {
    lease: Lease,
}

impl std::fmt::Debug for AcquireContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireContext")
            .field("provider", &self.provider())
            .field("key_id", &self.key_id())
            .field("key_value", &"[redacted]")
            .finish()
    }
}

impl AcquireContext {
    pub(crate) fn new(lease: Lease) -> Self {
        Self { lease }
    }

    /// The key (`.expose_secret()` gives the `&str`).
    pub fn key_value(&self) -> &SecretString {
        self.lease.info().secret().as_secret_string()
    }

    /// The provider.
    pub fn provider(&self) -> &str {
        self.lease.provider_name()
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        self.lease.info().id()
    }

    /// The key's metadata.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        self.lease.info().metadata()
    }

    /// The key's own endpoint, else the provider's.
    pub fn base_url(&self) -> Option<&str> {
        self.lease
            .info()
            .base_url()
            .or(self.lease.slot().config.base_url.as_deref())
    }

    /// Reports a success (naming the upstream provider an aggregator used, if any).
    pub async fn report_success(self, upstream_provider: Option<&str>) {
        self.report_success_with_usage(Usage::default(), upstream_provider)
            .await;
    }

    /// Reports a success with its token usage.
    pub async fn report_success_with_usage(
        mut self,
        usage: Usage,
        upstream_provider: Option<&str>,
    ) {
        self.lease.succeed(usage, None, upstream_provider);
    }

    /// Reports a failure; it is classified and applied like an engine attempt's.
    pub async fn report_error(mut self, error: ReportedError) {
        let mut failure = ProviderError::new(error.kind, error.message)
            .with_retry_after(error.retry_after)
            .for_key(self.lease.provider_name(), self.lease.info().id());
        failure.status = error.status;
        self.lease.fail(&failure);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_like_the_table() {
        let cases = [
            (429, ErrorKind::RateLimited),
            (401, ErrorKind::Auth),
            (403, ErrorKind::Auth),
            (402, ErrorKind::QuotaExhausted),
            (500, ErrorKind::ServerError),
            (502, ErrorKind::ServerError),
            (503, ErrorKind::Overloaded),
            (529, ErrorKind::Overloaded),
            (408, ErrorKind::Timeout),
            (400, ErrorKind::InvalidRequest),
            (404, ErrorKind::InvalidRequest),
        ];
        for (status, kind) in cases {
            assert_eq!(ReportedError::from_status(status).kind(), kind, "{status}");
        }
    }
}
