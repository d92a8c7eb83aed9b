//! Tools: what a model may call ([`ToolSpec`], [`ToolChoice`]), what it called
//! ([`ToolCall`], streamed as [`ToolCallDelta`]s), what the caller answered
//! ([`ToolResult`]), and the shape an answer must take ([`ResponseFormat`]).

use serde::{Deserialize, Serialize};

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, quoted by its result (`^[A-Za-z0-9_-]{1,64}$` when the project
    /// makes one up, for a vendor that gives none).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments: the JSON text exactly as the model wrote it.
    pub arguments: String,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    /// The arguments parsed; an empty text reads as `{}`.
    pub fn arguments_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        serde_json::from_str(&self.arguments)
    }
}

/// A piece of a streamed tool call: the first piece of a call names its `id` and `name`,
/// every piece may add to its `arguments`; pieces of one call share its `index`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call of the answer (0 for the first).
    pub index: u32,
    /// The call's id, on its first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tool's name, on its first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More argument text.
    #[serde(default)]
    pub arguments: String,
}

/// The caller's answer to a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the call answered.
    pub call_id: String,
    /// The result (text, or any parts the target vendor takes in a tool result).
    pub content: Vec<crate::content::ContentPart>,
    /// True when the tool failed and `content` says why.
    #[serde(default)]
    pub is_error: bool,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its parameters, as a JSON Schema object.
    pub parameters: serde_json::Value,
    /// Ask for strict schema adherence where the vendor offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl ToolSpec {
    /// A tool `name` taking `parameters` (a JSON Schema object).
    pub fn new(name: impl Into<String>, parameters: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            description: None,
            parameters,
            strict: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool call.
    None,
    /// Some tool call.
    Required,
    /// A call of this tool.
    Tool(String),
}

/// The shape the answer must take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching `schema`.
    JsonSchema {
        /// The schema's name.
        name: String,
        /// The JSON Schema.
        schema: serde_json::Value,
        /// Ask for strict adherence where the vendor offers it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

/// A reasoning (thinking) block, tied to the vendor that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// The reasoning text (empty when the vendor redacted it or sent only a signature).
    #[serde(default)]
    pub text: String,
    /// The vendor's signature, sent back verbatim with the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// An encrypted block the vendor redacted (Anthropic `redacted_thinking.data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// The provider that produced it: only that provider is sent it back.
    #[serde(default)]
    pub provider: String,
}

/// True when `id` is a tool call id every vendor accepts.
pub fn is_portable_call_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_empty_reads_as_an_object() {
        let call = ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#);
        assert_eq!(call.arguments_json().unwrap()["city"], "Paris");
        assert!(ToolCall::new("c", "n", "")
            .arguments_json()
            .unwrap()
            .is_object());
        assert!(ToolCall::new("c", "n", "{oops").arguments_json().is_err());
    }

    #[test]
    fn portable_ids() {
        assert!(is_portable_call_id("call_Ab-9"));
        assert!(!is_portable_call_id(""));
        assert!(!is_portable_call_id("has space"));
        assert!(!is_portable_call_id(&"x".repeat(65)));
    }
}
