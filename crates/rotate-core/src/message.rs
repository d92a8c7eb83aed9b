//! Chat messages, the input of `chat` and `chat_stream`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{ContentPart, PartKind};
use crate::tool::{ResponseFormat, ToolCall, ToolChoice, ToolSpec};

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

impl Role {
    /// The wire name: `system`, `user`, `assistant` or `tool`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// One message of a conversation: a role and an ordered list of parts (text, images,
/// files, audio, tool calls, tool results, reasoning).
///
/// Serializes as `{"role":"user","content":"hi"}` when the message is one text part,
/// else with `content` a list of parts; both forms read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said, in order.
    pub content: Vec<ContentPart>,
}

impl ChatMessage {
    /// A message of `role` made of `parts`.
    pub fn new(role: Role, parts: impl Into<Vec<ContentPart>>) -> Self {
        Self {
            role,
            content: parts.into(),
        }
    }

    fn text_of(role: Role, text: impl Into<String>) -> Self {
        Self::new(role, vec![ContentPart::text(text)])
    }

    /// A system message (one text part).
    pub fn system(text: impl Into<String>) -> Self {
        Self::text_of(Role::System, text)
    }

    /// A user message (one text part).
    pub fn user(text: impl Into<String>) -> Self {
        Self::text_of(Role::User, text)
    }

    /// An assistant message (one text part).
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text_of(Role::Assistant, text)
    }

    /// The result of tool call `call_id`: text, or any parts.
    pub fn tool_result(call_id: impl Into<String>, result: impl Into<ToolOutput>) -> Self {
        let ToolOutput { parts, is_error } = result.into();
        Self::new(
            Role::Tool,
            vec![ContentPart::tool_result(call_id, parts, is_error)],
        )
    }

    /// The text parts joined (no separator added).
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(ContentPart::as_text)
            .collect()
    }

    /// The tool calls of an assistant message.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.content.iter().filter_map(ContentPart::as_tool_call)
    }

    /// True when the message is text parts only.
    pub fn is_text_only(&self) -> bool {
        self.content.iter().all(|p| p.kind() == PartKind::Text)
    }
}

/// What a tool returned, for [`ChatMessage::tool_result`]: text or parts, and whether it
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The result.
    pub parts: Vec<ContentPart>,
    /// True when the tool failed.
    pub is_error: bool,
}

impl ToolOutput {
    /// A failure, explained by `text`.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            parts: vec![ContentPart::text(text)],
            is_error: true,
        }
    }
}

impl From<&str> for ToolOutput {
    fn from(text: &str) -> Self {
        String::from(text).into()
    }
}

impl From<String> for ToolOutput {
    fn from(text: String) -> Self {
        Self {
            parts: vec![ContentPart::text(text)],
            is_error: false,
        }
    }
}

impl From<Vec<ContentPart>> for ToolOutput {
    fn from(parts: Vec<ContentPart>) -> Self {
        Self {
            parts,
            is_error: false,
        }
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut message = serializer.serialize_struct("ChatMessage", 2)?;
        message.serialize_field("role", &self.role)?;
        match self.content.as_slice() {
            [only] if only.kind() == PartKind::Text => {
                message.serialize_field("content", &only.as_text())?;
            }
            parts => message.serialize_field("content", parts)?,
        }
        message.end()
    }
}

impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            role: Role,
            content: serde_json::Value,
        }
        let wire = Wire::deserialize(deserializer)?;
        let content = match wire.content {
            serde_json::Value::String(text) => vec![ContentPart::text(text)],
            // a list of parts, or an error saying what is wrong with them
            parts => serde_json::from_value(parts).map_err(serde::de::Error::custom)?,
        };
        Ok(Self {
            role: wire.role,
            content,
        })
    }
}

/// True for `http(s)://host…` and `data:…;base64,…` URLs with no whitespace.
fn is_image_url(url: &str) -> bool {
    let starts = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let rest = if starts("https://") {
        &url[8..]
    } else if starts("http://") {
        &url[7..]
    } else if starts("data:") {
        return url.contains(";base64,") && !url.contains(char::is_whitespace);
    } else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace)
}

/// A provider-neutral chat request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Output token cap.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool it must call.
    pub tool_choice: Option<ToolChoice>,
    /// Whether it may call several tools at once.
    pub parallel_tool_calls: Option<bool>,
    /// The shape of the answer.
    pub response_format: Option<ResponseFormat>,
    /// Reasoning effort (`low`, `medium`, `high`, …) for vendors that take one.
    pub reasoning_effort: Option<String>,
    /// A thinking budget in tokens for vendors that take one.
    pub reasoning_budget_tokens: Option<u32>,
    /// Extra body fields, merged after the typed ones.
    pub extra: Map<String, Value>,
    /// The client's own body, for keys that speak its dialect.
    pub passthrough: Option<crate::passthrough::Passthrough>,
}

impl ChatRequest {
    /// Checks what no vendor could take, before any network call: image URLs that are not
    /// `http(s)` or `data:` URLs, and tool results that answer no call of the history.
    pub fn check(&self) -> Result<(), String> {
        let mut calls: Vec<&str> = Vec::new();
        for (i, message) in self.messages.iter().enumerate() {
            for part in &message.content {
                if let Some((url, _)) = part.image_url_parts() {
                    if !is_image_url(url) {
                        return Err(format!(
                            "messages[{i}]: the image URL `{}` is not an http(s) or data: URL",
                            url.chars().take(80).collect::<String>()
                        ));
                    }
                }
                if let Some(call) = part.as_tool_call() {
                    calls.push(&call.id);
                }
                if let Some(result) = part.as_tool_result() {
                    if !calls.contains(&result.call_id.as_str()) {
                        return Err(format!(
                            "messages[{i}]: the tool result for `{}` answers no tool call of the conversation",
                            result.call_id
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_form_is_role_and_content() {
        let m = ChatMessage::user("hi");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"role":"user","content":"hi"}"#
        );
        let back: ChatMessage = serde_json::from_str(r#"{"role":"system","content":"x"}"#).unwrap();
        assert_eq!(back, ChatMessage::system("x"));
    }

    #[test]
    fn parts_serialize_as_a_list_and_read_back() {
        let m = ChatMessage::new(
            Role::User,
            vec![
                ContentPart::text("what is this?"),
                ContentPart::image_url("https://example.com/cat.png"),
            ],
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["content"][1]["type"], "image_url");
        let back: ChatMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.text(), "what is this?");
        let error = serde_json::from_str::<ChatMessage>(
            r#"{"role":"user","content":[{"type":"hologram"}]}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("hologram"), "{error}");
    }

    #[test]
    fn a_request_is_checked_for_bad_urls_and_orphan_results() {
        let call = ToolCall::new("call_1", "weather", "{}");
        let mut request = ChatRequest {
            messages: vec![
                ChatMessage::user("weather?"),
                ChatMessage::new(Role::Assistant, vec![ContentPart::tool_call(call)]),
                ChatMessage::tool_result("call_1", "sunny"),
            ],
            ..ChatRequest::default()
        };
        assert_eq!(request.check(), Ok(()));
        request
            .messages
            .push(ChatMessage::tool_result("call_9", "?"));
        assert!(request.check().unwrap_err().contains("call_9"));
        let bad = ChatRequest {
            messages: vec![ChatMessage::new(
                Role::User,
                vec![ContentPart::image_url("not a url")],
            )],
            ..ChatRequest::default()
        };
        assert!(bad.check().unwrap_err().contains("not a url"));
    }
}
