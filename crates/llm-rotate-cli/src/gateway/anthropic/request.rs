//! Reading a `POST /v1/messages` body into the library's conversation model: `system`
//! (a string or text blocks), turns of content blocks (text, images by base64 or URL,
//! PDF documents, `tool_use`, `tool_result`, `thinking` and `redacted_thinking`),
//! `tools`, `tool_choice`, `thinking`, `max_tokens`, `temperature` and `stream`. Each
//! wrong field is named in the error. The body itself goes whole to Anthropic keys (see
//! [`Passthrough`]); keys of other vendors get the translation, without
//! `cache_control`, `metadata` and Anthropic's other own fields, and never a request
//! with server tools.

use base64::Engine as _;
use llm_rotate::{
    ChatMessage, ChatOptions, ContentPart, Passthrough, Reasoning, Role, ToolCall, ToolChoice,
    ToolSpec, WireDialect,
};
use serde_json::{Map, Value};

use crate::gateway::http::ApiError;

/// The provider name thinking blocks from Anthropic clients are sent back to.
pub const SIGNER: &str = "anthropic";

/// A parsed Messages request.
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    /// Carries the body itself for Anthropic keys (see [`Passthrough`]).
    pub options: ChatOptions,
}

/// Parses and checks a request body.
pub fn parse(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let mut untranslatable = Vec::new();
    let model = match fields.remove("model") {
        Some(Value::String(m)) if !m.is_empty() => m,
        None => return Err(ApiError::bad_request("model: Field required")),
        Some(_) => return Err(wrong("model", "a non-empty string")),
    };
    let max_tokens = match fields.remove("max_tokens") {
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| wrong("max_tokens", "a positive integer"))?,
        None => return Err(ApiError::bad_request("max_tokens: Field required")),
    };
    let mut messages = Vec::new();
    if let Some(system) = fields.remove("system") {
        let text = system_text(&system)?;
        if !text.is_empty() {
            messages.push(ChatMessage::system(text));
        }
    }
    let turns = match fields.remove("messages") {
        Some(Value::Array(turns)) if !turns.is_empty() => turns,
        None => return Err(ApiError::bad_request("messages: Field required")),
        Some(_) => return Err(wrong("messages", "a non-empty array")),
    };
    for (index, turn) in turns.iter().enumerate() {
        read_turn(turn, index, &mut messages)?;
    }
    let stream = match fields.remove("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(wrong("stream", "a boolean")),
    };
    let mut options = ChatOptions::default().max_tokens(max_tokens);
    if let Some(t) = fields.remove("temperature").filter(|t| !t.is_null()) {
        let t = t.as_f64().ok_or_else(|| wrong("temperature", "a number"))?;
        options.temperature = Some(t as f32);
    }
    if let Some(tools) = fields.remove("tools") {
        options.tools = read_tools(&tools, &mut untranslatable)?;
    }
    if let Some(choice) = fields.remove("tool_choice") {
        read_tool_choice(&choice, &mut options)?;
    }
    if let Some(thinking) = fields.remove("thinking") {
        read_thinking(&thinking, &mut options)?;
    }
    // Claude Code names its session in metadata.user_id: the call keeps to its key
    options.affinity = fields
        .remove("metadata")
        .and_then(|m| m.get("user_id")?.as_str().map(str::to_owned));
    // the rest is Anthropic's own: it goes to Anthropic keys in the body, not elsewhere
    if !fields.is_empty() {
        tracing::debug!(fields = ?fields.keys().collect::<Vec<_>>(), "fields carried to Anthropic keys only");
    }
    let mut pass = Passthrough::from_json(WireDialect::Anthropic, body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    for field in untranslatable {
        pass = pass.untranslatable(field);
    }
    options.passthrough = Some(pass);
    Ok(MessagesRequest {
        model,
        messages,
        stream,
        options,
    })
}

fn wrong(name: &str, expected: &str) -> ApiError {
    ApiError::bad_request(format!("{name}: must be {expected}"))
}

/// `system` as one text: a string, or the text of its text blocks joined by blank lines.
fn system_text(system: &Value) -> Result<String, ApiError> {
    match system {
        Value::String(text) => Ok(text.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                match (block["type"].as_str(), block["text"].as_str()) {
                    (Some("text"), Some(text)) => texts.push(text),
                    _ => return Err(wrong(&format!("system.{i}"), "a text block")),
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(wrong("system", "a string or a list of text blocks")),
    }
}

/// One turn; tool results become tool messages ahead of the turn's other parts.
fn read_turn(turn: &Value, index: usize, out: &mut Vec<ChatMessage>) -> Result<(), ApiError> {
    let at = format!("messages.{index}");
    let role = match turn["role"].as_str() {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        _ => return Err(wrong(&format!("{at}.role"), "\"user\" or \"assistant\"")),
    };
    let blocks = match &turn["content"] {
        Value::String(text) => {
            out.push(ChatMessage::new(
                role,
                vec![ContentPart::text(text.clone())],
            ));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(wrong(
                &format!("{at}.content"),
                "a string or a list of blocks",
            ))
        }
    };
    let mut parts = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{i}");
        match block["type"].as_str() {
            Some("tool_result") if role == Role::User => out.push(tool_result(block, &at)?),
            Some("tool_use") if role == Role::Assistant => {
                parts.push(ContentPart::tool_call(tool_use(block, &at)?));
            }
            Some("thinking") if role == Role::Assistant => {
                let text = block["thinking"]
                    .as_str()
                    .ok_or_else(|| wrong(&format!("{at}.thinking"), "a string"))?;
                parts.push(ContentPart::reasoning(Reasoning {
                    text: text.to_owned(),
                    signature: block["signature"].as_str().map(str::to_owned),
                    redacted: None,
                    provider: SIGNER.to_owned(),
                }));
            }
            Some("redacted_thinking") if role == Role::Assistant => {
                let data = block["data"]
                    .as_str()
                    .ok_or_else(|| wrong(&format!("{at}.data"), "a string"))?;
                parts.push(ContentPart::reasoning(Reasoning {
                    text: String::new(),
                    signature: None,
                    redacted: Some(data.to_owned()),
                    provider: SIGNER.to_owned(),
                }));
            }
            _ => parts.push(media_or_text(block, &at)?),
        }
    }
    if !parts.is_empty() {
        out.push(ChatMessage::new(role, parts));
    }
    Ok(())
}

/// A text, image or document block.
fn media_or_text(block: &Value, at: &str) -> Result<ContentPart, ApiError> {
    match block["type"].as_str() {
        Some("text") => block["text"]
            .as_str()
            .map(ContentPart::text)
            .ok_or_else(|| wrong(&format!("{at}.text"), "a string")),
        Some(kind @ ("image" | "document")) => {
            let source = &block["source"];
            let at = format!("{at}.source");
            match source["type"].as_str() {
                Some("base64") => {
                    let mime = source["media_type"]
                        .as_str()
                        .ok_or_else(|| wrong(&format!("{at}.media_type"), "a string"))?;
                    let data = source["data"]
                        .as_str()
                        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
                        .ok_or_else(|| wrong(&format!("{at}.data"), "base64 data"))?;
                    Ok(match (kind, mime) {
                        ("document", "application/pdf") => ContentPart::pdf_bytes(data),
                        ("image", _) => ContentPart::image_bytes(data, Some(mime)),
                        _ => return Err(wrong(&format!("{at}.media_type"), "application/pdf for a document")),
                    })
                }
                Some("url") if kind == "image" => source["url"]
                    .as_str()
                    .map(ContentPart::image_url)
                    .ok_or_else(|| wrong(&format!("{at}.url"), "a URL")),
                Some("text") if kind == "document" => source["data"]
                    .as_str()
                    .map(ContentPart::text)
                    .ok_or_else(|| wrong(&format!("{at}.data"), "a string")),
                _ => Err(ApiError::bad_request(format!(
                    "{at}: this gateway carries base64 and URL images, and base64 PDF or text documents"
                ))),
            }
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "{at}.type: `{other}` blocks cannot be carried in this turn"
        ))),
        None => Err(wrong(&format!("{at}.type"), "a string")),
    }
}

fn tool_use(block: &Value, at: &str) -> Result<ToolCall, ApiError> {
    let id = block["id"]
        .as_str()
        .ok_or_else(|| wrong(&format!("{at}.id"), "a string"))?;
    let name = block["name"]
        .as_str()
        .ok_or_else(|| wrong(&format!("{at}.name"), "a string"))?;
    let input = match &block["input"] {
        Value::Object(input) => Value::Object(input.clone()),
        Value::Null => Value::Object(Map::new()),
        _ => return Err(wrong(&format!("{at}.input"), "an object")),
    };
    Ok(ToolCall::new(id, name, input.to_string()))
}

fn tool_result(block: &Value, at: &str) -> Result<ChatMessage, ApiError> {
    let id = block["tool_use_id"]
        .as_str()
        .ok_or_else(|| wrong(&format!("{at}.tool_use_id"), "a string"))?;
    let parts = match &block["content"] {
        Value::Null => Vec::new(),
        Value::String(text) => vec![ContentPart::text(text.clone())],
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(i, b)| media_or_text(b, &format!("{at}.content.{i}")))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(wrong(
                &format!("{at}.content"),
                "a string or a list of blocks",
            ))
        }
    };
    let is_error = match &block["is_error"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(wrong(&format!("{at}.is_error"), "a boolean")),
    };
    Ok(ChatMessage::new(
        Role::Tool,
        vec![ContentPart::tool_result(id, parts, is_error)],
    ))
}

/// Custom tools, typed; server tools (`web_search_…`, `bash_…`) are Anthropic's own and
/// are named in `untranslatable`.
fn read_tools(tools: &Value, untranslatable: &mut Vec<String>) -> Result<Vec<ToolSpec>, ApiError> {
    let Value::Array(tools) = tools else {
        return Err(wrong("tools", "a list"));
    };
    tools
        .iter()
        .enumerate()
        .filter(
            |(i, tool)| match tool["type"].as_str().filter(|t| *t != "custom") {
                Some(kind) => {
                    untranslatable.push(format!("tools.{i} (the server tool `{kind}`)"));
                    false
                }
                None => true,
            },
        )
        .map(|(i, tool)| {
            let name = tool["name"]
                .as_str()
                .ok_or_else(|| wrong(&format!("tools.{i}.name"), "a string"))?;
            let schema = match &tool["input_schema"] {
                schema @ Value::Object(_) => schema.clone(),
                _ => return Err(wrong(&format!("tools.{i}.input_schema"), "an object")),
            };
            let mut spec = ToolSpec::new(name, schema);
            if let Some(description) = tool["description"].as_str() {
                spec = spec.description(description);
            }
            Ok(spec)
        })
        .collect()
}

fn read_tool_choice(choice: &Value, options: &mut ChatOptions) -> Result<(), ApiError> {
    options.tool_choice = Some(match choice["type"].as_str() {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => ToolChoice::Tool(
            choice["name"]
                .as_str()
                .ok_or_else(|| wrong("tool_choice.name", "a string"))?
                .to_owned(),
        ),
        _ => return Err(wrong("tool_choice.type", "auto, any, tool or none")),
    });
    match &choice["disable_parallel_tool_use"] {
        Value::Null => {}
        Value::Bool(disable) => options.parallel_tool_calls = Some(!disable),
        _ => return Err(wrong("tool_choice.disable_parallel_tool_use", "a boolean")),
    }
    Ok(())
}

fn read_thinking(thinking: &Value, options: &mut ChatOptions) -> Result<(), ApiError> {
    match thinking["type"].as_str() {
        Some("enabled") => {
            let budget = thinking["budget_tokens"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| wrong("thinking.budget_tokens", "a positive integer"))?;
            options.reasoning_budget_tokens = Some(budget);
            Ok(())
        }
        Some("disabled") => Ok(()),
        _ => Err(wrong("thinking.type", "enabled or disabled")),
    }
}

/// A rough count of the request's input tokens (about four characters a token) for
/// `count_tokens`: the text, tool arguments and results, and tool schemas.
pub fn estimate_tokens(request: &MessagesRequest) -> u64 {
    let mut chars = 0usize;
    for message in &request.messages {
        chars += 4; // the turn's framing
        for part in &message.content {
            chars += part_chars(part);
        }
    }
    for tool in &request.options.tools {
        chars += tool.name.len()
            + tool.description.as_deref().map_or(0, str::len)
            + tool.parameters.to_string().len();
    }
    (chars as u64).div_ceil(4).max(1)
}

fn part_chars(part: &ContentPart) -> usize {
    if let Some(text) = part.as_text() {
        text.len()
    } else if let Some(call) = part.as_tool_call() {
        call.name.len() + call.arguments.len()
    } else if let Some(result) = part.as_tool_result() {
        result.content.iter().map(part_chars).sum()
    } else if let Some(reasoning) = part.as_reasoning() {
        reasoning.text.len()
    } else {
        // an image or document: Anthropic counts roughly this many tokens for a small one
        1600 * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(body: &str) -> String {
        match parse(body.as_bytes()) {
            Ok(_) => panic!("accepted: {body}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn server_tools_keep_a_request_on_anthropic_keys() {
        let body = r#"{"model": "m", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "Read", "input_schema": {"type": "object"}}], "messages": [{"role": "user", "content": "x"}]}"#;
        let request = parse(body.as_bytes()).unwrap();
        assert_eq!(request.options.tools.len(), 1);
        let pass = request.options.passthrough.unwrap();
        let reason = pass
            .foreign_reason(Some(llm_rotate::WireDialect::OpenAiChat))
            .unwrap();
        assert!(reason.contains("web_search_20250305"), "{reason}");
    }

    #[test]
    fn a_claude_code_shaped_request_reads_into_the_model() {
        let body = r#"{"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
            "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "top_k": 5,
            "messages": [
              {"role": "user", "content": "read a.txt"},
              {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should read it.", "signature": "sig-1"},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.txt"}}]},
              {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "and now?"}]}
            ]}"#;
        let request = parse(body.as_bytes()).unwrap();
        assert!(request.stream);
        assert_eq!(request.options.max_tokens, Some(1024));
        assert_eq!(request.options.reasoning_budget_tokens, Some(2048));
        assert_eq!(request.options.parallel_tool_calls, Some(false));
        assert_eq!(request.options.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(request.options.tools[0].name, "Read");
        // Anthropic's own fields stay in the body, which only Anthropic keys receive
        assert!(request.options.extra.is_empty());
        let pass = request.options.passthrough.as_ref().unwrap();
        assert_eq!(pass.dialect(), llm_rotate::WireDialect::Anthropic);
        assert_eq!(pass.get("top_k"), Some(serde_json::json!(5)));
        assert_eq!(
            pass.get("system").unwrap()[0]["cache_control"],
            serde_json::json!({"type": "ephemeral"})
        );
        assert!(pass.untranslatable_fields().is_empty());
        let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(request.messages[0].text(), "You are terse.");
        let assistant = &request.messages[2].content;
        let reasoning = assistant[0].as_reasoning().unwrap();
        assert_eq!(
            (reasoning.signature.as_deref(), reasoning.provider.as_str()),
            (Some("sig-1"), SIGNER)
        );
        assert_eq!(
            assistant[1].as_tool_call().unwrap().arguments,
            r#"{"path":"a.txt"}"#
        );
        let result = request.messages[3].content[0].as_tool_result().unwrap();
        assert_eq!(
            (result.call_id.as_str(), result.content[0].as_text()),
            ("toolu_1", Some("hello"))
        );
        assert!(estimate_tokens(&request) > 5);
    }

    #[test]
    fn images_and_documents_by_base64_and_url() {
        let body = r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="}}]}]}"#;
        let parts = &parse(body.as_bytes()).unwrap().messages[0].content;
        assert_eq!(parts[0].data(), Some(&b"\x89PNG\r\n\x1a\n"[..]));
        assert_eq!(parts[0].mime_type(), Some("image/png"));
        assert_eq!(
            parts[1].image_url_parts(),
            Some(("https://example.com/a.jpg", None))
        );
        assert_eq!(parts[2].data(), Some(&b"%PDF-1.7"[..]));
    }

    #[test]
    fn each_wrong_field_is_named() {
        for (body, named) in [
            ("[]", "JSON object"),
            ("{", "not valid JSON"),
            (r#"{"max_tokens": 5, "messages": []}"#, "model"),
            (
                r#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#,
                "max_tokens",
            ),
            (r#"{"model": "m", "max_tokens": 5}"#, "messages"),
            (
                r#"{"model": "m", "max_tokens": "5", "messages": []}"#,
                "max_tokens",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}"#,
                "messages.0.role",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 3}]}"#,
                "messages.0.content",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%"}}]}]}"#,
                "messages.0.content.0.source.data",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": [1]}]}]}"#,
                "messages.0.content.0.input",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}]}"#,
                "tool_use",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "stream": "yes", "messages": [{"role": "user", "content": "x"}]}"#,
                "stream",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "tool_choice": {"type": "some"}, "messages": [{"role": "user", "content": "x"}]}"#,
                "tool_choice.type",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "x"}]}"#,
                "thinking.budget_tokens",
            ),
            (
                r#"{"model": "m", "max_tokens": 5, "system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]}"#,
                "system.0",
            ),
        ] {
            let message = rejected(body);
            assert!(message.contains(named), "{body}: {message}");
        }
    }
}
