//! Request URLs assembled from a trusted base and percent-encoded path segments.
//!
//! A value that comes from a caller (a model id, a deployment name, a file id) is always
//! exactly one path segment: every byte outside RFC 3986's unreserved set (and `@`) is
//! percent-encoded, so `/`, `?`, `#`, `%`, `:` and control bytes can never add a segment,
//! start a query or change the method. A segment that is empty, `.` or `..`, or that
//! holds a `/`, is refused with an `InvalidRequest` error before any I/O, so a server
//! that decodes `%2F` or normalises dot segments cannot be steered either.
//!
//! ```
//! use rotate_providers::url::RequestUrl;
//!
//! let url = RequestUrl::new("https://example.openai.azure.com/")
//!     .path("openai/deployments")
//!     .segment("deployment", "gpt-4o")
//!     .unwrap()
//!     .path("chat/completions")
//!     .query("api-version", "2024-10-21")
//!     .finish();
//! assert_eq!(url, "https://example.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21");
//!
//! let refused = RequestUrl::new("https://h").segment("model", "../admin").unwrap_err();
//! assert_eq!(refused.kind, rotate_core::ErrorKind::InvalidRequest);
//! ```

use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rotate_core::error::{excerpt, ErrorKind, ProviderError};

/// Bytes kept as they are in a segment: RFC 3986's unreserved characters and `@`
/// (Vertex model versions such as `claude-sonnet-4@20250514`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Bytes kept as they are in a query name or value: the unreserved characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A URL under construction: a base from configuration, then literal path pieces from
/// the adapter's own templates, encoded segments from callers, and a query.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    url: String,
    has_query: bool,
}

impl RequestUrl {
    /// Starts at `base` (from configuration; a trailing `/` is dropped).
    pub fn new(base: &str) -> Self {
        Self {
            url: base.trim_end_matches('/').to_owned(),
            has_query: base.contains('?'),
        }
    }

    /// Appends `/` and `literal`, a fixed piece of the adapter's template such as
    /// `chat/completions` (never a caller's value).
    pub fn path(mut self, literal: &str) -> Self {
        self.url.push('/');
        self.url.push_str(literal.trim_matches('/'));
        self
    }

    /// Appends `/` and `value` as one percent-encoded segment; `what` names the value in
    /// the error (`model`, `deployment`).
    pub fn segment(self, what: &str, value: &str) -> Result<Self, ProviderError> {
        self.segment_with_method(what, value, "")
    }

    /// Appends `/` and `value` as one segment with every byte outside the unreserved
    /// set encoded, `/` and `:` included (Bedrock's model ARNs and inference-profile
    /// ids are one segment); only an empty or dot segment is refused.
    pub fn opaque_segment(mut self, what: &str, value: &str) -> Result<Self, ProviderError> {
        check_opaque_segment(what, value)?;
        self.url.push('/');
        let _ = write!(self.url, "{}", utf8_percent_encode(value, QUERY));
        Ok(self)
    }

    /// Appends `/`, `value` as one encoded segment, then `method` verbatim (Google's
    /// `:generateContent`; a literal of the adapter's template).
    pub fn segment_with_method(
        mut self,
        what: &str,
        value: &str,
        method: &str,
    ) -> Result<Self, ProviderError> {
        check_segment(what, value)?;
        self.url.push('/');
        // writing into a String cannot fail
        let _ = write!(self.url, "{}", utf8_percent_encode(value, SEGMENT));
        self.url.push_str(method);
        Ok(self)
    }

    /// Appends `name=value` to the query, both percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.url.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        let _ = write!(
            self.url,
            "{}={}",
            utf8_percent_encode(name, QUERY),
            utf8_percent_encode(value, QUERY)
        );
        self
    }

    /// The URL.
    pub fn finish(self) -> String {
        self.url
    }
}

/// Refuses a value that cannot be one path segment (empty, `.`, `..`, or holding `/`),
/// as an `InvalidRequest` naming `what`.
pub fn check_segment(what: &str, value: &str) -> Result<(), ProviderError> {
    let problem = if value.is_empty() {
        "is empty"
    } else if value == "." || value == ".." {
        "is a dot segment"
    } else if value.contains('/') {
        "contains `/`"
    } else {
        return Ok(());
    };
    Err(ProviderError::new(
        ErrorKind::InvalidRequest,
        format!(
            "the {what} `{}` {problem}; it must be one URL path segment",
            excerpt(value)
        ),
    ))
}

/// Refuses a value that cannot be one encoded segment (empty, `.` or `..`).
pub fn check_opaque_segment(what: &str, value: &str) -> Result<(), ProviderError> {
    if value.contains('/') {
        // encoded, a `/` stays inside the segment
        return check_segment(what, &value.replace('/', "_"));
    }
    check_segment(what, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Result<String, ProviderError> {
        Ok(RequestUrl::new("http://h/v1")
            .segment("model", value)?
            .path("x")
            .finish())
    }

    #[test]
    fn a_value_is_always_one_encoded_segment() {
        assert_eq!(one("gpt-4o").unwrap(), "http://h/v1/gpt-4o/x");
        assert_eq!(
            one("claude-sonnet-4@20250514").unwrap(),
            "http://h/v1/claude-sonnet-4@20250514/x"
        );
        assert_eq!(
            one("gpt-4o?api-version=1").unwrap(),
            "http://h/v1/gpt-4o%3Fapi-version%3D1/x"
        );
        assert_eq!(one("a#b").unwrap(), "http://h/v1/a%23b/x");
        assert_eq!(one("a%2Fb").unwrap(), "http://h/v1/a%252Fb/x");
        assert_eq!(one("m:stream").unwrap(), "http://h/v1/m%3Astream/x");
        assert_eq!(one("a\r\nb").unwrap(), "http://h/v1/a%0D%0Ab/x");
        assert_eq!(one("é").unwrap(), "http://h/v1/%C3%A9/x");
        assert_eq!(one("...").unwrap(), "http://h/v1/.../x");
    }

    #[test]
    fn values_that_cannot_be_one_segment_are_refused() {
        for value in ["", ".", "..", "a/b", "gpt-4o/../../admin"] {
            let error = one(value).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidRequest, "{value:?}");
        }
        let error = one("x/\r\n").unwrap_err();
        assert!(error.message.contains(r"x/\r\n"), "{}", error.message);
    }

    #[test]
    fn an_opaque_segment_encodes_slashes_too() {
        let url = RequestUrl::new("https://bedrock-runtime.us-east-1.amazonaws.com")
            .path("model")
            .opaque_segment(
                "model",
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
            )
            .unwrap()
            .path("converse")
            .finish();
        assert_eq!(url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-20250514-v1%3A0/converse");
        for value in ["", ".", ".."] {
            let refused = RequestUrl::new("http://h").opaque_segment("model", value);
            assert_eq!(refused.unwrap_err().kind, ErrorKind::InvalidRequest);
        }
    }

    #[test]
    fn queries_are_encoded_and_joined() {
        let url = RequestUrl::new("http://h/a?x=1")
            .query("api-version", "2024&b=c")
            .finish();
        assert_eq!(url, "http://h/a?x=1&api-version=2024%26b%3Dc");
        let url = RequestUrl::new("http://h/")
            .path("/p/")
            .query("k", "v")
            .finish();
        assert_eq!(url, "http://h/p?k=v");
    }
}
