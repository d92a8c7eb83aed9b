//! Reading a `POST /v1/responses` body into the library's conversation model, for keys
//! that do not speak the Responses API: `instructions`, `input` (a string, or messages
//! with text, image and PDF parts, `function_call` and `function_call_output` items),
//! function `tools`, `tool_choice`, `parallel_tool_calls`, `max_output_tokens`,
//! `temperature`, `reasoning.effort`, `text.format` and `stream`. The body itself goes
//! whole to OpenAI and Azure keys. What only they can carry (stored state such as
//! `previous_response_id`, built-in tools, file ids) keeps the request on them; the
//! model's own `reasoning` items stay with OpenAI and are left out elsewhere.

use base64::Engine as _;
use llm_rotate::{
    ChatMessage, ChatOptions, ContentPart, Passthrough, ResponseFormat, Role, ToolCall, ToolChoice,
    ToolSpec, WireDialect,
};
use serde_json::{Map, Value};

use crate::gateway::http::ApiError;

/// A parsed Responses request.
pub struct ResponsesRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    /// Carries the body itself for OpenAI and Azure keys.
    pub options: ChatOptions,
    /// True when the request continues a stored response (`previous_response_id`): its
    /// affinity is that response's id, which no session header overrides.
    pub continues: bool,
}

fn wrong(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_type",
        format!("`{name}` must be {expected}."),
    )
}

/// Parses and checks a request body.
pub fn parse(body: &[u8]) -> Result<ResponsesRequest, ApiError> {
    let object: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
            ))
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "The request body is not valid JSON: {e}"
            )))
        }
    };
    let model = match object.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        None => {
            return Err(ApiError::bad_request(
                "Missing required parameter: 'model'.",
            ))
        }
        Some(_) => return Err(wrong("model", "a non-empty string")),
    };
    let mut untranslatable: Vec<String> = [
        "previous_response_id",
        "conversation",
        "prompt",
        "background",
    ]
    .iter()
    .filter(|f| object.get(**f).is_some_and(|v| !v.is_null() && *v != false))
    .map(|f| (*f).to_owned())
    .collect();
    let mut messages = Vec::new();
    match object.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(ChatMessage::system(text.clone())),
        Some(_) => return Err(wrong("instructions", "a string")),
    }
    match object.get("input") {
        Some(Value::String(text)) => messages.push(ChatMessage::user(text.clone())),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                read_item(item, i, &mut messages, &mut untranslatable)?;
            }
        }
        None if untranslatable.is_empty() => {
            return Err(ApiError::bad_request(
                "Missing required parameter: 'input'.",
            ))
        }
        None => {}
        Some(_) => return Err(wrong("input", "a string or a list of items")),
    }
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong("stream", "a boolean")),
    };
    let mut options = ChatOptions::default();
    if let Some(n) = object.get("max_output_tokens").filter(|v| !v.is_null()) {
        options.max_tokens = Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| wrong("max_output_tokens", "a positive integer"))?,
        );
    }
    if let Some(t) = object.get("temperature").filter(|v| !v.is_null()) {
        options.temperature =
            Some(t.as_f64().ok_or_else(|| wrong("temperature", "a number"))? as f32);
    }
    if let Some(tools) = object.get("tools").filter(|v| !v.is_null()) {
        options.tools = read_tools(tools, &mut untranslatable)?;
    }
    if let Some(choice) = object.get("tool_choice").filter(|v| !v.is_null()) {
        options.tool_choice = read_choice(choice, &mut untranslatable)?;
    }
    match object.get("parallel_tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => options.parallel_tool_calls = Some(*b),
        Some(_) => return Err(wrong("parallel_tool_calls", "a boolean")),
    }
    options.reasoning_effort = object
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(format) = object.get("text").and_then(|t| t.get("format")) {
        options.response_format = read_format(format)?;
    }
    let previous = object.get("previous_response_id").and_then(Value::as_str);
    let continues = previous.is_some();
    // a stored response lives with the key (the organisation) that made it
    options.affinity = previous
        .or_else(|| object.get("prompt_cache_key").and_then(Value::as_str))
        .map(str::to_owned);
    let pass = Passthrough::from_json(WireDialect::OpenAiResponses, body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    options.passthrough = Some(
        untranslatable
            .into_iter()
            .fold(pass, Passthrough::untranslatable),
    );
    Ok(ResponsesRequest {
        model,
        messages,
        stream,
        options,
        continues,
    })
}

/// One `input` item.
fn read_item(
    item: &Value,
    i: usize,
    messages: &mut Vec<ChatMessage>,
    untranslatable: &mut Vec<String>,
) -> Result<(), ApiError> {
    let at = format!("input[{i}]");
    let text = |v: &Value, key: &str| -> Result<String, ApiError> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| wrong(&format!("{at}.{key}"), "a string"))
    };
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system" | "developer") => Role::System,
                _ => {
                    return Err(wrong(
                        &format!("{at}.role"),
                        "user, assistant, system or developer",
                    ))
                }
            };
            let parts = match item.get("content") {
                Some(Value::String(t)) => vec![ContentPart::text(t.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .filter_map(|(p, part)| {
                        read_part(part, &format!("{at}.content[{p}]"), untranslatable).transpose()
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(wrong(
                        &format!("{at}.content"),
                        "a string or a list of parts",
                    ))
                }
            };
            messages.push(ChatMessage::new(role, parts));
        }
        Some("function_call") => {
            let call = ContentPart::tool_call(ToolCall::new(
                text(item, "call_id")?,
                text(item, "name")?,
                text(item, "arguments")?,
            ));
            // consecutive calls belong to one assistant turn
            match messages.last_mut() {
                Some(last) if last.role == Role::Assistant => last.content.push(call),
                _ => messages.push(ChatMessage::new(Role::Assistant, vec![call])),
            }
        }
        Some("function_call_output") => {
            let output = match item.get("output") {
                Some(Value::String(t)) => t.clone(),
                Some(other @ Value::Array(_)) => other
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect(),
                _ => return Err(wrong(&format!("{at}.output"), "a string")),
            };
            messages.push(ChatMessage::tool_result(text(item, "call_id")?, output));
        }
        // the model's own reasoning: it goes back to OpenAI in the body, nowhere else
        Some("reasoning") => {}
        Some(other) => untranslatable.push(format!("{at} (a `{other}` item)")),
    }
    Ok(())
}

/// One content part; `None` when only OpenAI keys can carry it (named in `untranslatable`).
fn read_part(
    part: &Value,
    at: &str,
    untranslatable: &mut Vec<String>,
) -> Result<Option<ContentPart>, ApiError> {
    let kind = part.get("type").and_then(Value::as_str);
    match kind {
        Some("input_text" | "output_text") => part
            .get("text")
            .and_then(Value::as_str)
            .map(|t| Some(ContentPart::text(t)))
            .ok_or_else(|| wrong(&format!("{at}.text"), "a string")),
        Some("refusal") => Ok(None),
        Some("input_image") => match part.get("image_url").and_then(Value::as_str) {
            Some(url) => Ok(Some(match part.get("detail").and_then(Value::as_str) {
                Some(detail) => ContentPart::image_url_with_detail(url, detail),
                None => ContentPart::image_url(url),
            })),
            None => {
                untranslatable.push(format!("{at} (an image by file id)"));
                Ok(None)
            }
        },
        Some("input_file") => {
            let data = part
                .get("file_data")
                .and_then(Value::as_str)
                .and_then(|d| d.strip_prefix("data:application/pdf;base64,"))
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok());
            match data {
                Some(bytes) => Ok(Some(ContentPart::pdf_bytes(bytes))),
                None => {
                    untranslatable.push(format!("{at} (a file other than PDF data)"));
                    Ok(None)
                }
            }
        }
        Some(other) => {
            untranslatable.push(format!("{at} (a `{other}` part)"));
            Ok(None)
        }
        None => Err(wrong(&format!("{at}.type"), "a string")),
    }
}

/// Function tools (`{type: function, name, description, parameters, strict}`); built-in
/// tools are OpenAI's own.
fn read_tools(tools: &Value, untranslatable: &mut Vec<String>) -> Result<Vec<ToolSpec>, ApiError> {
    let Value::Array(tools) = tools else {
        return Err(wrong("tools", "a list"));
    };
    let mut specs = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = tool
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| wrong(&format!("tools[{i}].name"), "a string"))?;
                let parameters = tool
                    .get("parameters")
                    .filter(|p| !p.is_null())
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
                let mut spec = ToolSpec::new(name, parameters);
                if let Some(description) = tool.get("description").and_then(Value::as_str) {
                    spec = spec.description(description);
                }
                spec.strict = tool.get("strict").and_then(Value::as_bool);
                specs.push(spec);
            }
            Some(other) => untranslatable.push(format!("tools[{i}] (the built-in tool `{other}`)")),
            None => return Err(wrong(&format!("tools[{i}].type"), "a string")),
        }
    }
    Ok(specs)
}

fn read_choice(
    choice: &Value,
    untranslatable: &mut Vec<String>,
) -> Result<Option<ToolChoice>, ApiError> {
    Ok(Some(match choice {
        Value::String(s) if s == "auto" => ToolChoice::Auto,
        Value::String(s) if s == "none" => ToolChoice::None,
        Value::String(s) if s == "required" => ToolChoice::Required,
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| wrong("tool_choice.name", "a string"))?;
            ToolChoice::Tool(name.to_owned())
        }
        Value::Object(_) => {
            untranslatable.push("tool_choice (a built-in tool)".to_owned());
            return Ok(None);
        }
        _ => {
            return Err(wrong(
                "tool_choice",
                "`auto`, `none`, `required` or a function",
            ))
        }
    }))
}

fn read_format(format: &Value) -> Result<Option<ResponseFormat>, ApiError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => Ok(Some(ResponseFormat::JsonSchema {
            name: format
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response")
                .to_owned(),
            schema: format
                .get("schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
            strict: format.get("strict").and_then(Value::as_bool),
        })),
        Some(_) => Err(wrong(
            "text.format.type",
            "`text`, `json_object` or `json_schema`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_codex_shaped_request_reads_into_the_model() {
        let body = json!({"model": "gpt-5", "instructions": "You are a coding agent.", "stream": true,
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}],
            "tools": [{"type": "function", "name": "shell", "description": "Run", "parameters": {"type": "object"}, "strict": false}],
            "tool_choice": "auto", "parallel_tool_calls": false, "reasoning": {"effort": "medium"},
            "store": false, "include": ["reasoning.encrypted_content"]});
        let request = parse(body.to_string().as_bytes()).ok().unwrap();
        assert!(request.stream);
        let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::Tool]
        );
        assert_eq!(
            request.messages[2].tool_calls().next().unwrap().name,
            "shell"
        );
        assert_eq!(request.options.tools[0].name, "shell");
        assert_eq!(request.options.reasoning_effort.as_deref(), Some("medium"));
        let pass = request.options.passthrough.unwrap();
        assert!(pass.untranslatable_fields().is_empty());
        assert_eq!(
            pass.get("include").unwrap(),
            json!(["reasoning.encrypted_content"])
        );
    }

    #[test]
    fn stored_state_and_built_in_tools_stay_on_openai_keys_and_bad_fields_say_why() {
        let body = br#"{"model": "m", "previous_response_id": "resp_1", "input": "go on", "tools": [{"type": "web_search"}]}"#;
        let pass = parse(body).ok().unwrap().options.passthrough.unwrap();
        assert_eq!(pass.untranslatable_fields()[0], "previous_response_id");
        assert!(pass.untranslatable_fields()[1].contains("web_search"));
        for (body, needle) in [
            (&b"["[..], "not valid JSON"),
            (b"[]", "JSON object"),
            (br#"{"input": "x"}"#, "model"),
            (br#"{"model": "m"}"#, "input"),
            (br#"{"model": "m", "input": 3}"#, "`input`"),
            (
                br#"{"model": "m", "input": [{"role": "robot", "content": "x"}]}"#,
                "input[0].role",
            ),
            (
                br#"{"model": "m", "input": [{"type": "function_call", "name": "f"}]}"#,
                "input[0].call_id",
            ),
            (
                br#"{"model": "m", "input": "x", "max_output_tokens": -1}"#,
                "max_output_tokens",
            ),
            (
                br#"{"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}"#,
                "text.format.type",
            ),
        ] {
            let message = parse(body).err().unwrap().message;
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }
}
