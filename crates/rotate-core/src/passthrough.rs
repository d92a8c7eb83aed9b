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
//! ```
//! use rotate_core::passthrough::{Passthrough, WireDialect};
//!
//! let body = serde_json::json!({"model": "gpt-4o", "messages": [], "n": 2});
//! let pass = Passthrough::new(WireDialect::OpenAiChat, body.as_object().unwrap().clone())
//!     .untranslatable("n");
//! assert!(pass.foreign_reason(Some(WireDialect::Anthropic)).unwrap().contains("`n`"));
//! assert!(pass.foreign_reason(Some(WireDialect::OpenAiChat)).is_none());
//! ```

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A vendor wire dialect a request body can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireDialect {
    /// OpenAI Chat Completions (OpenAI, Azure OpenAI, every OpenAI-compatible vendor).
    OpenAiChat,
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
            Self::Anthropic => "Anthropic Messages",
            Self::Gemini => "Gemini generateContent",
        }
    }
}

/// The body a client sent, in `dialect`, for keys that speak it.
#[derive(Clone, PartialEq)]
pub struct Passthrough {
    dialect: WireDialect,
    body: Arc<Map<String, Value>>,
    headers: Arc<[(String, String)]>,
    untranslatable: Arc<[String]>,
}

impl Passthrough {
    /// `body`, written in `dialect`.
    pub fn new(dialect: WireDialect, body: Map<String, Value>) -> Self {
        Self {
            dialect,
            body: Arc::new(body),
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

    /// The body as the client sent it.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
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
        if self.passes_to(dialect) {
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
            .field("fields", &self.body.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("untranslatable", &self.untranslatable)
            .finish()
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
    fn debug_shows_field_names_not_the_conversation() {
        let shown = format!("{:?}", Passthrough::new(WireDialect::OpenAiChat, body()));
        assert!(shown.contains("messages"), "{shown}");
        assert!(!shown.contains("secret words"), "{shown}");
    }
}
