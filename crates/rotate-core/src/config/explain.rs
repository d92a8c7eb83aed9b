//! Serde's errors, explained: the path of the offending field, quoted string values
//! scrubbed (they may be keys), and the nearest valid name for unknown fields and
//! variants.

use crate::error::ConfigurationError;

/// Deserializes `T` from a JSON value, turning the error into a [`ConfigurationError`]
/// with the path of the offending field, secrets scrubbed from the message, and the
/// nearest valid name suggested for unknown fields and variants.
pub fn deserialize_with_path<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ConfigurationError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = explain_serde_message(&err.into_inner().to_string());
        ConfigurationError::new(path, message)
    })
}

/// Rewrites a serde message: scrubs quoted string values (they may be keys) and adds a
/// "did you mean" for unknown fields and variants.
pub fn explain_serde_message(message: &str) -> String {
    let scrubbed = scrub_string_values(message);
    for what in ["unknown field", "unknown variant"] {
        if let Some(rest) = scrubbed.strip_prefix(what) {
            if let Some((given, expected)) = parse_unknown(rest) {
                let hint = suggestion(&given, expected.iter().map(String::as_str));
                let list = expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return format!("{what} `{given}`{hint}; expected one of {list}");
            }
        }
    }
    scrubbed
}

fn parse_unknown(rest: &str) -> Option<(String, Vec<String>)> {
    let rest = rest.trim_start().strip_prefix('`')?;
    let (given, rest) = rest.split_once('`')?;
    let expected_part = rest
        .split_once("expected one of ")
        .map(|(_, e)| e)
        .or_else(|| rest.split_once("expected ").map(|(_, e)| e))?;
    let expected: Vec<String> = expected_part
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect();
    Some((given.to_owned(), expected))
}

fn scrub_string_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find("string \"") {
        let (head, tail) = rest.split_at(pos + "string \"".len());
        out.push_str(head);
        match tail.find('"') {
            Some(end) => {
                out.push_str("…\"");
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str("…\"");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `"; did you mean `x`?"` for the candidate nearest to `given`, or `""` when none is close.
pub fn suggestion<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(given, c), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= given.chars().count().max(3) / 2 + 1 => {
            format!("; did you mean `{c}`?")
        }
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
