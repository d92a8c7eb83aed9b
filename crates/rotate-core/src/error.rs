//! Errors, and what the engine should do about each.
//!
//! Every failure carries an [`ErrorKind`] for programs (its [`ErrorKind::as_str`] is the
//! stable metrics label) and a message for people. [`ErrorKind::disposition`] is the
//! classification table of the spec as data: cool the key down, quarantine it, count a
//! failure, or stop because the caller is at fault.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod kind;

pub use self::kind::{Disposition, ErrorKind};

/// The vendor's own words about a failed request, for callers that answer in the
/// vendor's dialect (the gateway passes a caller's-fault 4xx on with them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorError {
    /// The dialect the body is written in.
    pub dialect: Option<crate::passthrough::WireDialect>,
    /// The error's `type` (OpenAI, Anthropic) or `status` (Google).
    pub error_type: Option<String>,
    /// The error's `code`.
    pub code: Option<String>,
    /// The request field the error is about (OpenAI's `param`).
    pub param: Option<String>,
    /// The error body as the vendor sent it (any echoed key removed).
    pub body: Option<String>,
}

/// A classified failure of one call to one provider with one key.
///
/// Adapters build it with [`ProviderError::new`]; the engine fills in `provider` and
/// `key_id`. The message never contains a key value.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    /// The provider called.
    pub provider: String,
    /// The id of the key used (never its value).
    pub key_id: String,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// The classification.
    pub kind: ErrorKind,
    /// What the vendor said, or what went wrong.
    pub message: String,
    /// How long the vendor asked us to wait, when it said. For a spent quota
    /// ([`ErrorKind::QuotaExhausted`]) it is set only when the quota resets on the
    /// vendor's schedule (a per-day limit): the key then rests that long instead of
    /// being quarantined.
    pub retry_after: Option<Duration>,
    /// What the vendor's error body said (its `type`, `code`, `param`, the body itself),
    /// when it answered a 4xx.
    pub vendor: Option<Box<VendorError>>,
    /// The underlying error (I/O, JSON, HTTP), when there was one.
    cause: Cause,
}

/// The underlying error of a failure (I/O, JSON, HTTP), kept for
/// [`std::error::Error::source`]. Errors that differ only in their cause are equal.
/// One thin pointer, so that errors stay small on the hot path.
#[derive(Clone, Default)]
struct Cause(Option<Arc<BoxedError>>);

type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Cause {
    fn of(cause: impl Into<BoxedError>) -> Self {
        Self(Some(Arc::new(cause.into())))
    }

    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.as_deref().map(|c| &**c as _)
    }
}

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cause {}

/// `with_source` and `Error::source` for the error types that keep a [`Cause`].
macro_rules! keeps_a_cause {
    ($($error:ty),*) => {$(
        impl $error {
            /// Keeps `cause` (an I/O, JSON, HTTP or Redis error) as the error's
            /// [`source`](std::error::Error::source).
            pub fn with_source(
                mut self,
                cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
            ) -> Self {
                self.cause = Cause::of(cause);
                self
            }
        }

        impl std::error::Error for $error {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.cause.source()
            }
        }
    )*};
}

keeps_a_cause!(ProviderError, ConfigurationError, StoreError);

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(cause) => cause.fmt(f),
            None => f.write_str("None"),
        }
    }
}

impl ProviderError {
    /// A new error of `kind`; provider and key are filled in by the engine.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            provider: String::new(),
            key_id: String::new(),
            status: None,
            kind,
            message: message.into(),
            retry_after: None,
            vendor: None,
            cause: Cause::default(),
        }
    }

    /// Keeps what the vendor's error body said.
    pub fn with_vendor(mut self, vendor: VendorError) -> Self {
        self.vendor = Some(Box::new(vendor));
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the wait the vendor asked for.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Names the provider and key (done by the engine for every attempt).
    pub fn for_key(mut self, provider: &str, key_id: &str) -> Self {
        provider.clone_into(&mut self.provider);
        key_id.clone_into(&mut self.key_id);
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error", self.kind)?;
        if !self.provider.is_empty() {
            write!(f, " from provider `{}`", self.provider)?;
        }
        if !self.key_id.is_empty() {
            write!(f, " (key `{}`)", self.key_id)?;
        }
        if let Some(status) = self.status {
            write!(f, ", status {status}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// An error and its chain of causes on one line (`reading the response body failed:
/// connection reset`), for people: logs, reports, a gateway's error messages.
///
/// ```
/// use rotate_core::error::{with_causes, ConfigurationError};
///
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// let error = ConfigurationError::new("", "cannot read `a.yaml`").with_source(io);
/// assert_eq!(with_causes(&error), "invalid configuration: cannot read `a.yaml`: no such file");
/// ```
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let shown = next.to_string();
        if !text.ends_with(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = next.source();
    }
    text
}

/// A caller's value as an error may show it: at most 64 characters, control characters
/// escaped, so a CR/LF in it can never forge a log line.
///
/// ```
/// assert_eq!(rotate_core::error::excerpt("a\r\nb"), r"a\r\nb");
/// assert_eq!(rotate_core::error::excerpt(&"x".repeat(100)).chars().count(), 65);
/// ```
pub fn excerpt(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

/// One failed attempt of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The provider tried.
    pub provider: String,
    /// The key tried (its id).
    pub key_id: String,
    /// The upstream model id asked for.
    pub model: String,
    /// Why it failed.
    pub error: ProviderError,
}

/// A configuration problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationError {
    path: String,
    message: String,
    cause: Cause,
}

impl ConfigurationError {
    /// A problem at `path` (like `keys[2].provider`; empty for the whole config).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            cause: Cause::default(),
        }
    }

    /// Where the problem is, e.g. `keys[2].provider`; empty when it concerns the whole config.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same problem, one level deeper in a larger document (`prefix.path`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_owned(),
            (false, false) if self.path.starts_with('[') => format!("{prefix}{}", self.path),
            (false, false) => format!("{prefix}.{}", self.path),
        };
        self
    }
}

impl fmt::Display for ConfigurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid configuration: {}", self.message)
        } else {
            write!(
                f,
                "invalid configuration at `{}`: {}",
                self.path, self.message
            )
        }
    }
}

/// Nothing could serve the call: every key is cooling down, quarantined or disabled, or
/// no provider serves the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAvailableKeyError {
    /// The model asked for.
    pub model: String,
    /// The providers the plan considered.
    pub providers: Vec<String>,
    /// When the soonest key becomes eligible again, when known.
    pub retry_in: Option<Duration>,
}

impl fmt::Display for NoAvailableKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.providers.is_empty() {
            return write!(f, "no configured provider serves model `{}`", self.model);
        }
        write!(
            f,
            "no key available for model `{}` on provider(s) {}",
            self.model,
            self.providers.join(", ")
        )?;
        if let Some(wait) = self.retry_in {
            write!(
                f,
                "; the soonest key is eligible again in {} ms",
                wait.as_millis()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for NoAvailableKeyError {}

/// A state store failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
    cause: Cause,
}

impl StoreError {
    /// A store failure described by `message` (which must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            cause: Cause::default(),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The error of every public call.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LMRotateError {
    /// The configuration is invalid, or the call cannot be served as configured.
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    /// Nothing was eligible to serve the call.
    #[error(transparent)]
    NoAvailableKey(#[from] NoAvailableKeyError),
    /// A caller's-fault error, returned at once without retry.
    #[error(transparent)]
    Provider(ProviderError),
    /// Every allowed attempt failed.
    #[error("every attempt failed ({} in all); last: {}", attempts.len(), last_message(attempts))]
    Exhausted {
        /// Every attempt, in order.
        attempts: Vec<Attempt>,
    },
    /// A stream failed after content had been yielded.
    #[error("the stream failed after content was yielded: {0}")]
    Stream(#[source] ProviderError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// The call did not finish within its deadline (the call's `timeout`, else
    /// `defaults.call_timeout_seconds`), retries and fallback included.
    #[error("the call did not finish within its deadline of {} ms", after.as_millis())]
    DeadlineExceeded {
        /// The deadline.
        after: Duration,
    },
    /// A blocking call was made where it would block an async runtime.
    #[error("{0}")]
    Blocking(&'static str),
}

fn last_message(attempts: &[Attempt]) -> String {
    attempts
        .last()
        .map_or_else(|| "none".to_owned(), |a| with_causes(&a.error))
}

impl LMRotateError {
    /// The kind of failure (for `Exhausted`, the last attempt's).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Configuration(_) => ErrorKind::Configuration,
            Self::NoAvailableKey(_) => ErrorKind::NoAvailableKey,
            Self::Provider(e) | Self::Stream(e) => e.kind,
            Self::Exhausted { attempts } => attempts
                .last()
                .map_or(ErrorKind::NoAvailableKey, |a| a.error.kind),
            Self::Store(_) => ErrorKind::Store,
            Self::Closed => ErrorKind::Closed,
            Self::Blocking(_) => ErrorKind::Configuration,
            Self::DeadlineExceeded { .. } => ErrorKind::Timeout,
        }
    }

    /// The HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Provider(e) | Self::Stream(e) => e.status,
            Self::Exhausted { attempts } => attempts.last().and_then(|a| a.error.status),
            _ => None,
        }
    }

    /// How long to wait before trying again, when known (for `NoAvailableKey`, its `retry_in`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::NoAvailableKey(e) => e.retry_in,
            Self::Provider(e) | Self::Stream(e) => e.retry_after,
            Self::Exhausted { attempts } => {
                attempts.iter().filter_map(|a| a.error.retry_after).min()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
