//! API key values that never print.
//!
//! A [`Secret`] wraps [`secrecy::SecretString`] from the moment a key is read. Its
//! `Debug` shows `[redacted]`, it serializes as `"[redacted]"` (so a config written back
//! out never carries a key, and reading that placeholder back is refused), and
//! [`Secret::mask`] gives the short form used where a key must be recognisable.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The text a secret serializes as.
pub const REDACTED: &str = "[redacted]";

/// A secret string (an API key, a service-account JSON, a gateway token).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value, for the one place that builds a header or signs a token.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The underlying [`SecretString`].
    pub fn as_secret_string(&self) -> &SecretString {
        &self.0
    }

    /// A recognisable but safe form: `sk-…f3a9` for long values, `****` for short ones.
    pub fn mask(&self) -> String {
        mask(self.expose())
    }
}

/// Masks any secret-shaped text: the first three and last four characters of values of
/// at least 16 characters, nothing of shorter ones.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 16 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value == REDACTED {
            return Err(serde::de::Error::custom(
                "this secret was redacted when the config was written out; give the real value or `env`",
            ));
        }
        Ok(Self::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_hide_the_value() {
        let s = Secret::new("sk-live-abcdefghijklmnop");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.mask(), "sk-…mnop");
        assert_eq!(Secret::new("short").mask(), "****");
    }

    #[test]
    fn redacted_placeholder_is_refused_on_read() {
        let err = serde_json::from_str::<Secret>("\"[redacted]\"").unwrap_err();
        assert!(err.to_string().contains("redacted"));
        let ok: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.expose(), "abc");
    }
}
