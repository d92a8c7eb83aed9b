//! A client's own request body, carried beside the neutral request so that a key whose
//! protocol is the client's dialect receives it unchanged (only the model and the
//! stream switches set), and answers that come back as the vendor sent them.
//!
//! The gateway uses this for lossless same-dialect traffic: an OpenAI SDK request
//! reaching an OpenAI-family key keeps `n`, `logprobs`, `developer` messages and every
//! field the project has never heard of, while the same request reaching an Anthropic
//! key goes through the neutral model. Rotation, retries, fallback and classification
//! are the engine's, as for any `chat` call.
//!
//! The body is kept as its top-level fields, each value as the raw JSON text it came
//! as: reading it costs one pass with no tree built, and writing it again (with the
//! model replaced) copies those texts.
//!
//! ```
//! use rotate_core::passthrough::{Passthrough, WireDialect};
//! use serde_json::json;
//!
//! let pass = Passthrough::from_json(WireDialect::OpenAiChat, br#"{"model": "smart", "messages": [], "n": 2}"#)
//!     .unwrap()
//!     .untranslatable("n");
//! assert!(pass.foreign_reason(Some(WireDialect::Anthropic)).unwrap().contains("`n`"));
//! assert!(pass.foreign_reason(Some(WireDialect::OpenAiChat)).is_none());
//! let sent: serde_json::Value =
//!     serde_json::from_slice(&pass.write_with(&[("model", json!("gpt-4o"))], &[])).unwrap();
//! assert_eq!(sent, json!({"model": "gpt-4o", "messages": [], "n": 2}));
//! ```

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A vendor wire dialect a request body can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireDialect {
    /// OpenAI Chat Completions (OpenAI, Azure OpenAI, every OpenAI-compatible vendor).
    OpenAiChat,
    /// OpenAI's Responses API (OpenAI and Azure OpenAI keys).
    OpenAiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini `generateContent` (Google AI Studio and Vertex AI).
    Gemini,
}

impl WireDialect {
    /// A name for messages: `OpenAI Chat Completions`, `Anthropic Messages`, `Gemini`.
    pub fn label(self) -> &'static str {
        match self {
            Self::OpenAiChat => "OpenAI Chat Completions",
            Self::OpenAiResponses => "OpenAI Responses",
            Self::Anthropic => "Anthropic Messages",
            Self::Gemini => "Gemini generateContent",
        }
    }
}

/// A body's top-level fields in order, each value as its raw JSON text.
type Fields = Vec<(String, Box<RawValue>)>;

/// The body a client sent, in `dialect`, for keys that speak it.
#[derive(Clone)]
pub struct Passthrough {
    dialect: WireDialect,
    fields: Arc<Fields>,
    headers: Arc<[(String, String)]>,
    untranslatable: Arc<[String]>,
}

impl PartialEq for Passthrough {
    fn eq(&self, other: &Self) -> bool {
        let same = self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(other.fields.iter())
                .all(|((a, x), (b, y))| a == b && x.get() == y.get());
        self.dialect == other.dialect
            && same
            && self.headers == other.headers
            && self.untranslatable == other.untranslatable
    }
}

impl Passthrough {
    /// `body`, written in `dialect`.
    pub fn new(dialect: WireDialect, body: Map<String, Value>) -> Self {
        let fields = body
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::value::to_raw_value(&v).ok()?)))
            .collect();
        Self::of_fields(dialect, fields)
    }

    /// The JSON object `body`, written in `dialect`, read without building a tree.
    pub fn from_json(dialect: WireDialect, body: &[u8]) -> Result<Self, serde_json::Error> {
        let mut reader = serde_json::Deserializer::from_slice(body);
        let fields = reader.deserialize_map(FieldsVisitor)?;
        reader.end()?;
        Ok(Self::of_fields(dialect, fields))
    }

    fn of_fields(dialect: WireDialect, fields: Fields) -> Self {
        Self {
            dialect,
            fields: Arc::new(fields),
            headers: Arc::from(Vec::new()),
            untranslatable: Arc::from(Vec::new()),
        }
    }

    /// Adds a header to forward with the body (`anthropic-beta`, `anthropic-version`);
    /// never a credential, which is the key's.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut headers = self.headers.to_vec();
        headers.push((name.into(), value.into()));
        self.headers = Arc::from(headers);
        self
    }

    /// Names a field of the body that only keys of this dialect can carry (`n: 2`,
    /// `logprobs`): the call skips keys of other dialects, saying why.
    pub fn untranslatable(mut self, field: impl Into<String>) -> Self {
        let mut fields = self.untranslatable.to_vec();
        fields.push(field.into());
        self.untranslatable = Arc::from(fields);
        self
    }

    /// The dialect of the body.
    pub fn dialect(&self) -> WireDialect {
        self.dialect
    }

    /// A top-level field of the body, read (the last one when the body repeats it, as
    /// JSON readers take it).
    pub fn get(&self, name: &str) -> Option<Value> {
        let raw = self.fields.iter().rev().find(|(k, _)| k == name)?;
        serde_json::from_str(raw.1.get()).ok()
    }

    /// True when the body has a top-level field `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }

    /// The body as JSON, with the fields of `set` put in (replacing any of that name) and
    /// those named in `remove` left out; every other field as the client wrote it.
    pub fn write_with(&self, set: &[(&str, Value)], remove: &[&str]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 64,
        );
        let mut writer = serde_json::Serializer::new(&mut out);
        // writing to memory cannot fail, and every value is already JSON
        let _ = (|| -> Result<(), serde_json::Error> {
            let mut map = writer.serialize_map(None)?;
            for (key, value) in self.fields.iter() {
                let dropped = remove.contains(&key.as_str()) || set.iter().any(|(k, _)| k == key);
                if !dropped {
                    map.serialize_entry(key, value)?;
                }
            }
            for (key, value) in set {
                map.serialize_entry(key, value)?;
            }
            map.end()
        })();
        out
    }

    /// The headers to forward.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The fields only this dialect carries.
    pub fn untranslatable_fields(&self) -> &[String] {
        &self.untranslatable
    }

    /// Whether a key speaking `dialect` receives this body unchanged.
    pub fn passes_to(&self, dialect: Option<WireDialect>) -> bool {
        dialect == Some(self.dialect)
    }

    /// Why a key speaking `dialect` (`None`: a protocol with no dialect) cannot serve
    /// this request: a field the translation would lose.
    pub fn foreign_reason(&self, dialect: Option<WireDialect>) -> Option<String> {
        self.reason_unless(self.passes_to(dialect), dialect)
    }

    /// [`foreign_reason`](Self::foreign_reason) for a key that `accepts` this body or
    /// not, and speaks `dialect` (for the message).
    pub fn reason_unless(&self, accepts: bool, dialect: Option<WireDialect>) -> Option<String> {
        if accepts {
            return None;
        }
        let field = self.untranslatable.first()?;
        Some(format!(
            "`{field}` is carried only to keys that speak {} (this provider speaks {})",
            self.dialect.label(),
            dialect.map_or("another protocol", WireDialect::label),
        ))
    }
}

impl fmt::Debug for Passthrough {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // the body holds the client's conversation: its field names are enough here
        f.debug_struct("Passthrough")
            .field("dialect", &self.dialect)
            .field(
                "fields",
                &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("headers", &self.headers)
            .field("untranslatable", &self.untranslatable)
            .finish()
    }
}

/// Reads a JSON object into its top-level fields, values kept raw.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<String>()? {
            fields.push((key, map.next_value::<Box<RawValue>>()?));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Map<String, Value> {
        json!({"model": "m", "messages": [{"role": "user", "content": "secret words"}]})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn only_keys_of_its_dialect_take_the_body() {
        let pass = Passthrough::new(WireDialect::Anthropic, body());
        assert!(pass.passes_to(Some(WireDialect::Anthropic)));
        assert!(!pass.passes_to(Some(WireDialect::OpenAiChat)));
        assert!(!pass.passes_to(None));
        // nothing untranslatable: any dialect can serve a translation
        assert_eq!(pass.foreign_reason(Some(WireDialect::Gemini)), None);
    }

    #[test]
    fn an_untranslatable_field_names_itself_and_both_dialects() {
        let pass = Passthrough::new(WireDialect::OpenAiChat, body())
            .untranslatable("logprobs")
            .header("x-extra", "1");
        let reason = pass.foreign_reason(Some(WireDialect::Gemini)).unwrap();
        assert!(reason.contains("`logprobs`"), "{reason}");
        assert!(reason.contains("OpenAI Chat Completions"), "{reason}");
        assert!(reason.contains("Gemini"), "{reason}");
        assert_eq!(pass.headers(), &[("x-extra".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn the_body_is_written_again_as_sent_with_fields_set_and_removed() {
        let body = br#"{"model":"smart","messages":[{"role":"developer","content":"x"}],"n":2,"logprobs":true,"stream":false}"#;
        let pass = Passthrough::from_json(WireDialect::OpenAiChat, body).unwrap();
        assert_eq!(pass.get("n"), Some(serde_json::json!(2)));
        assert!(pass.contains("logprobs") && !pass.contains("tools"));
        let sent = pass.write_with(&[("model", serde_json::json!("gpt-4o"))], &["stream"]);
        assert_eq!(
            std::str::from_utf8(&sent).unwrap(),
            r#"{"messages":[{"role":"developer","content":"x"}],"n":2,"logprobs":true,"model":"gpt-4o"}"#
        );
        for bad in [&b"[]"[..], b"{", b"{} x", b"\"s\""] {
            assert!(Passthrough::from_json(WireDialect::OpenAiChat, bad).is_err());
        }
    }

    #[test]
    fn debug_shows_field_names_not_the_conversation() {
        let shown = format!("{:?}", Passthrough::new(WireDialect::OpenAiChat, body()));
        assert!(shown.contains("messages"), "{shown}");
        assert!(!shown.contains("secret words"), "{shown}");
    }
}
