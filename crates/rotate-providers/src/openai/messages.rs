//! The neutral conversation in OpenAI Chat Completions form, serialized straight from
//! the messages (no intermediate JSON tree):
//!
//! - a text-only message is `{"role", "content": "text"}`;
//! - other user parts become content parts: `image_url` (a `data:` URL for image bytes),
//!   `file` with `file_data` for PDFs (or `file_id` for an uploaded file), `input_audio`;
//! - an assistant's tool calls go in `tool_calls` (with `content: null` when it said
//!   nothing); its reasoning parts are left out (this API takes none back);
//! - every tool result becomes its own `role: tool` message with `tool_call_id`;
//! - tools, tool choice, parallel calls, response format and reasoning effort take
//!   their documented fields.
//!
//! [`cannot_carry`] names what has no form here: a file given by URL, a tool result that
//! is not text.

use base64::Engine as _;
use rotate_core::content::{ContentPart, PartKind};
use rotate_core::message::{ChatMessage, ChatRequest, Role};
use rotate_core::tool::{ResponseFormat, ToolCall, ToolChoice, ToolSpec};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::json;

/// Why this request has no OpenAI form, if it has none.
pub(crate) fn cannot_carry(request: &ChatRequest) -> Option<String> {
    for (i, message) in request.messages.iter().enumerate() {
        for part in &message.content {
            if let Some(uri) = part.file_uri().filter(|u| u.contains("://")) {
                return Some(format!(
                    "messages[{i}]: the OpenAI protocol takes uploaded file ids, not the file URI `{uri}`"
                ));
            }
            if let Some(result) = part.as_tool_result() {
                if result.content.iter().any(|p| p.kind() != PartKind::Text) {
                    return Some(format!(
                        "messages[{i}]: an OpenAI tool result is text only; the result for `{}` holds other parts",
                        result.call_id
                    ));
                }
            }
        }
    }
    None
}

/// The `messages` array.
pub(crate) struct Messages<'a>(pub(crate) &'a [ChatMessage]);

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for message in self.0 {
            if let [only] = message.content.as_slice() {
                if let Some(text) = only.as_text() {
                    // the common case, with no allocation
                    seq.serialize_element(&TextMessage {
                        role: message.role,
                        content: text,
                    })?;
                    continue;
                }
            }
            let results: Vec<_> = message
                .content
                .iter()
                .filter_map(ContentPart::as_tool_result)
                .collect();
            for result in &results {
                let text: String = result
                    .content
                    .iter()
                    .filter_map(ContentPart::as_text)
                    .collect();
                seq.serialize_element(
                    &json!({"role": "tool", "tool_call_id": result.call_id, "content": text}),
                )?;
            }
            let rest = message
                .content
                .iter()
                .filter(|p| !matches!(p.kind(), PartKind::ToolResult | PartKind::Reasoning));
            if results.is_empty() || rest.clone().next().is_some() {
                let role = if message.role == Role::Tool {
                    Role::User
                } else {
                    message.role
                };
                seq.serialize_element(&Message { role, message })?;
            }
        }
        seq.end()
    }
}

struct Message<'a> {
    role: Role,
    message: &'a ChatMessage,
}

/// A message of one text part, as `{"role", "content": "text"}`.
struct TextMessage<'a> {
    role: Role,
    content: &'a str,
}

impl Serialize for TextMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let role = if self.role == Role::Tool {
            Role::User
        } else {
            self.role
        };
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("role", role.as_str())?;
        map.serialize_entry("content", self.content)?;
        map.end()
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let parts: Vec<&ContentPart> = self
            .message
            .content
            .iter()
            .filter(|p| !matches!(p.kind(), PartKind::ToolResult | PartKind::Reasoning))
            .collect();
        let calls: Vec<&ToolCall> = parts.iter().filter_map(|p| p.as_tool_call()).collect();
        let shown: Vec<&ContentPart> = parts
            .iter()
            .copied()
            .filter(|p| p.kind() != PartKind::ToolCall)
            .collect();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("role", self.role.as_str())?;
        if shown.iter().all(|p| p.kind() == PartKind::Text) {
            let text: String = shown.iter().filter_map(|p| p.as_text()).collect();
            if text.is_empty() && !calls.is_empty() {
                map.serialize_entry("content", &serde_json::Value::Null)?;
            } else {
                map.serialize_entry("content", &text)?;
            }
        } else {
            map.serialize_entry("content", &Parts(&shown))?;
        }
        if !calls.is_empty() {
            let calls: Vec<serde_json::Value> = calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            map.serialize_entry("tool_calls", &calls)?;
        }
        map.end()
    }
}

struct Parts<'a>(&'a [&'a ContentPart]);

fn data_url(mime: &str, data: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

impl Serialize for Parts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for part in self.0 {
            let data = part.data().unwrap_or(&[]);
            let mime = part.mime_type().unwrap_or("application/octet-stream");
            let value = match part.kind() {
                PartKind::Text => json!({"type": "text", "text": part.as_text().unwrap_or("")}),
                PartKind::ImageBytes => {
                    json!({"type": "image_url", "image_url": {"url": data_url(mime, data)}})
                }
                PartKind::ImageUrl => {
                    let (url, detail) = part.image_url_parts().unwrap_or(("", None));
                    let mut image = json!({"url": url});
                    if let Some(detail) = detail {
                        image["detail"] = json!(detail);
                    }
                    json!({"type": "image_url", "image_url": image})
                }
                PartKind::PdfBytes => {
                    json!({"type": "file", "file": {"file_data": data_url(mime, data), "filename": "document.pdf"}})
                }
                PartKind::File => {
                    json!({"type": "file", "file": {"file_id": part.file_uri().unwrap_or("")}})
                }
                PartKind::Audio => json!({"type": "input_audio", "input_audio": {
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "format": part.audio_format().unwrap_or("wav"),
                }}),
                PartKind::ToolCall | PartKind::ToolResult | PartKind::Reasoning => continue,
            };
            seq.serialize_element(&value)?;
        }
        seq.end()
    }
}

/// `tools`.
pub(crate) fn tools(tools: &[ToolSpec]) -> serde_json::Value {
    tools
        .iter()
        .map(|tool| {
            let mut function = json!({"name": tool.name, "parameters": tool.parameters});
            if let Some(description) = &tool.description {
                function["description"] = json!(description);
            }
            if let Some(strict) = tool.strict {
                function["strict"] = json!(strict);
            }
            json!({"type": "function", "function": function})
        })
        .collect()
}

/// `tool_choice`.
pub(crate) fn tool_choice(choice: &ToolChoice) -> serde_json::Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

/// `response_format`.
pub(crate) fn response_format(format: &ResponseFormat) -> serde_json::Value {
    match format {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => {
            let mut inner = json!({"name": name, "schema": schema});
            if let Some(strict) = strict {
                inner["strict"] = json!(strict);
            }
            json!({"type": "json_schema", "json_schema": inner})
        }
    }
}
