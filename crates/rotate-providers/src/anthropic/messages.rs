//! The neutral conversation in Anthropic Messages form:
//!
//! - system messages join into the top-level `system`;
//! - parts become content blocks: `text`, `image` (base64 or URL source), `document`
//!   (PDF, base64), `tool_use` (arguments parsed to `input`), `tool_result`, and the
//!   `thinking` / `redacted_thinking` blocks this provider signed, sent back verbatim
//!   (other vendors' reasoning is left out);
//! - consecutive turns of one role merge (tool results answer in one `user` turn); a
//!   turn of text only is sent as one string, its texts joined by a blank line;
//! - tools, tool choice (`parallel_tool_calls: false` as `disable_parallel_tool_use`),
//!   a thinking budget and a JSON schema answer take their documented fields.
//!
//! [`cannot_carry`] names what has no form here: audio, a file URI, a bare JSON-object
//! answer, tool-call arguments that are not a JSON object.

use base64::Engine as _;
use rotate_core::content::{ContentPart, PartKind};
use rotate_core::message::{ChatMessage, ChatRequest, Role};
use rotate_core::tool::{ResponseFormat, ToolChoice};
use serde_json::{json, Map, Value};

/// Why this request has no Anthropic form, if it has none.
pub(crate) fn cannot_carry(request: &ChatRequest) -> Option<String> {
    if matches!(request.response_format, Some(ResponseFormat::JsonObject)) {
        return Some(
            "Anthropic takes a JSON schema for structured answers, not a bare JSON-object request"
                .to_owned(),
        );
    }
    for (i, message) in request.messages.iter().enumerate() {
        for part in parts_in(message) {
            match part.kind() {
                PartKind::Audio => {
                    return Some(format!("messages[{i}]: Anthropic takes no audio input"))
                }
                PartKind::File => {
                    return Some(format!(
                        "messages[{i}]: the Anthropic protocol takes images and PDFs as bytes or URLs, not the file URI `{}`",
                        part.file_uri().unwrap_or("")
                    ))
                }
                PartKind::ToolCall => {
                    let call = part.as_tool_call()?;
                    if !call.arguments_json().is_ok_and(|a| a.is_object()) {
                        return Some(format!(
                            "messages[{i}]: the arguments of tool call `{}` are not a JSON object, which Anthropic's `tool_use.input` must be",
                            call.id
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Every part of `message`, tool results' own parts included.
fn parts_in(message: &ChatMessage) -> impl Iterator<Item = &ContentPart> {
    message.content.iter().flat_map(|part| {
        let inner = part
            .as_tool_result()
            .map(|r| r.content.as_slice())
            .unwrap_or(&[]);
        std::iter::once(part).chain(inner.iter())
    })
}

/// The `system` text and the `messages` turns, as Anthropic takes them; the reasoning
/// of `provider` (this provider) goes back, any other vendor's is left out.
pub(crate) fn turns(request: &ChatRequest, provider: &str) -> (Vec<String>, Vec<Value>) {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::System => {
                system.push(message.text());
                continue;
            }
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        let blocks: Vec<Value> = message
            .content
            .iter()
            .filter_map(|part| block(part, provider))
            .collect();
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| json!({"role": role, "content": content_of(blocks)}))
        .collect();
    (system, messages)
}

/// A turn's content: one string when it is text only, else its blocks.
fn content_of(blocks: Vec<Value>) -> Value {
    let text_only = blocks
        .iter()
        .all(|b| b.get("type").and_then(Value::as_str) == Some("text"));
    if text_only {
        let texts: Vec<&str> = blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        return Value::String(texts.join("\n\n"));
    }
    Value::Array(blocks)
}

fn base64_source(mime: &str, data: &[u8]) -> Value {
    json!({"type": "base64", "media_type": mime, "data": base64::engine::general_purpose::STANDARD.encode(data)})
}

/// One part as a content block (`None`: left out).
fn block(part: &ContentPart, provider: &str) -> Option<Value> {
    let mime = part.mime_type().unwrap_or("application/octet-stream");
    Some(match part.kind() {
        PartKind::Text => json!({"type": "text", "text": part.as_text()?}),
        PartKind::ImageBytes => {
            json!({"type": "image", "source": base64_source(mime, part.data()?)})
        }
        PartKind::ImageUrl => {
            let (url, _) = part.image_url_parts()?;
            let source = match part.data_url() {
                Some((media_type, data)) => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                None => json!({"type": "url", "url": url}),
            };
            json!({"type": "image", "source": source})
        }
        PartKind::PdfBytes => {
            json!({"type": "document", "source": base64_source("application/pdf", part.data()?)})
        }
        PartKind::ToolCall => {
            let call = part.as_tool_call()?;
            let input = call.arguments_json().ok()?;
            json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input})
        }
        PartKind::ToolResult => {
            let result = part.as_tool_result()?;
            let content: Vec<Value> = result
                .content
                .iter()
                .filter_map(|p| block(p, provider))
                .collect();
            let mut block =
                json!({"type": "tool_result", "tool_use_id": result.call_id, "content": content});
            if result.is_error {
                block["is_error"] = Value::Bool(true);
            }
            block
        }
        PartKind::Reasoning => {
            let reasoning = part.as_reasoning()?;
            if reasoning.provider != provider {
                return None;
            }
            match &reasoning.redacted {
                Some(data) => json!({"type": "redacted_thinking", "data": data}),
                None => {
                    json!({"type": "thinking", "thinking": reasoning.text, "signature": reasoning.signature.clone().unwrap_or_default()})
                }
            }
        }
        PartKind::Audio | PartKind::File => return None,
    })
}

/// `tools`, `tool_choice`, `thinking` and the answer format, into `body`.
pub(crate) fn options(request: &ChatRequest, body: &mut Map<String, Value>) {
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut spec = json!({"name": tool.name, "input_schema": tool.parameters});
                if let Some(description) = &tool.description {
                    spec["description"] = json!(description);
                }
                spec
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = request.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
    });
    if request.parallel_tool_calls == Some(false) && !request.tools.is_empty() {
        choice.get_or_insert_with(|| json!({"type": "auto"}))["disable_parallel_tool_use"] =
            Value::Bool(true);
    }
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(budget) = request.reasoning_budget_tokens {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": schema}}),
        );
    }
}
