//! Reading vendor JSON strictly: a field that is absent or `null` is not there, and a
//! field of the wrong type is a `Decode` error that names it. A 200 whose body has the
//! wrong shape is the upstream's fault: it is retried on another key and counted
//! against this one, never read as an empty success.
//!
//! ```
//! use rotate_providers::json::count;
//!
//! let usage = serde_json::json!({"prompt_tokens": 11, "completion_tokens": "eleven"});
//! assert_eq!(count(&usage, &["prompt_tokens"], "usage").unwrap(), Some(11));
//! assert_eq!(count(&usage, &["total_tokens"], "usage").unwrap(), None);
//! assert!(count(&usage, &["completion_tokens"], "usage").is_err());
//! ```

use rotate_core::error::ProviderError;
use serde_json::Value;

use crate::errors::malformed;

/// `v[key]` unless it is absent or `null`.
pub fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|f| !f.is_null())
}

/// `v[keys[i]]` for each of `keys` (`None` when absent or `null`), found in one pass
/// over the object `v` (`v` not an object: all `None`). Cheaper than a lookup per key
/// when several fields of one object are read.
///
/// ```
/// use rotate_providers::json::fields;
///
/// let v = serde_json::json!({"model": "m", "usage": null, "id": 7});
/// let [model, usage, missing] = fields(&v, ["model", "usage", "choices"]);
/// assert_eq!(model.and_then(|m| m.as_str()), Some("m"));
/// assert!(usage.is_none() && missing.is_none());
/// ```
pub fn fields<'a, const N: usize>(v: &'a Value, keys: [&str; N]) -> [Option<&'a Value>; N] {
    let mut found = [None; N];
    if let Value::Object(map) = v {
        for (name, value) in map {
            if value.is_null() {
                continue;
            }
            if let Some(i) = keys.iter().position(|key| key == name) {
                found[i] = Some(value);
            }
        }
    }
    found
}

/// The token count at `path` below `v`: `None` when absent or `null`, a `Decode` error
/// (naming `what` and the path) when it is anything but a non-negative integer.
pub fn count(v: &Value, path: &[&str], what: &str) -> Result<Option<u64>, ProviderError> {
    let mut at = v;
    for key in path {
        match field(at, key) {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    token_count(at, path, what).map(Some)
}

/// `v` as a token count: a `Decode` error (naming `what` and `path`) when it is
/// anything but a non-negative integer.
pub fn token_count(v: &Value, path: &[&str], what: &str) -> Result<u64, ProviderError> {
    v.as_u64()
        .ok_or_else(|| malformed(what, format!("`{}` is not a token count", path.join("."))))
}

/// The string at `v[key]`: `None` when absent or `null`, a `Decode` error otherwise.
pub fn text<'a>(v: &'a Value, key: &str, what: &str) -> Result<Option<&'a str>, ProviderError> {
    text_of(field(v, key), key, what)
}

/// A field already looked up (absent or `null`: `None`) that must be a string when
/// present: a `Decode` error naming `name` otherwise.
pub fn text_of<'a>(
    v: Option<&'a Value>,
    name: &str,
    what: &str,
) -> Result<Option<&'a str>, ProviderError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(malformed(what, format!("`{name}` is not a string"))),
    }
}

/// `v` when it is an object; `None` when it is absent or `null`; a `Decode` error
/// naming `name` otherwise.
pub fn object<'a>(
    v: Option<&'a Value>,
    name: &str,
    what: &str,
) -> Result<Option<&'a Value>, ProviderError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(_) => Err(malformed(what, format!("`{name}` is not an object"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::ErrorKind;
    use serde_json::json;

    #[test]
    fn wrong_types_are_decode_errors_and_absence_is_none() {
        let v = json!({"a": {"b": 3}, "s": "x", "n": null, "bad": [1], "neg": -1});
        assert_eq!(count(&v, &["a", "b"], "usage").unwrap(), Some(3));
        assert_eq!(count(&v, &["a", "c"], "usage").unwrap(), None);
        assert_eq!(count(&v, &["n"], "usage").unwrap(), None);
        let error = count(&v, &["neg"], "usage").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Decode);
        assert!(error.message.contains("`neg`"), "{}", error.message);
        assert_eq!(text(&v, "s", "reply").unwrap(), Some("x"));
        assert!(text(&v, "bad", "reply").is_err());
        assert!(object(v.get("a"), "a", "reply").unwrap().is_some());
        assert!(object(v.get("n"), "n", "reply").unwrap().is_none());
        assert!(object(v.get("bad"), "bad", "reply").is_err());
    }
}
