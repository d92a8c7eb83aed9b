//! A Gemini request as a chat call, so that it can land on a key of any vendor: the
//! turns become messages (function calls on the assistant turn, function responses as
//! tool results), `functionDeclarations` tools, `toolConfig` and `generationConfig`
//! typed options. Google keys still get the body whole (the [`Passthrough`](llm_rotate::Passthrough) the reader
//! attached); this is what other keys get. Answers from other keys are written back in
//! Gemini's shape, whole or as `alt=sse` chunks.

use llm_rotate::{
    ChatMessage, ChatOptions, ChatResponse, ContentPart, ResponseFormat, Role, StreamChunk,
    ToolChoice, ToolSpec, Usage,
};
use serde_json::{json, Map, Value};

use super::Generate;
use crate::gateway::answer::Translation;
use crate::gateway::http::{write_sse_event, ApiError};

/// The chat call a parsed request stands for.
pub fn to_chat(request: Generate) -> Result<(Vec<ChatMessage>, ChatOptions), ApiError> {
    let Generate { contents, options } = request;
    let mut messages = Vec::with_capacity(contents.len() + 1);
    if let Some(system) = options.system_instruction.filter(|s| !s.is_empty()) {
        messages.push(ChatMessage::system(system));
    }
    // (id, name) of the calls so far: a functionResponse without an id answers the
    // latest call of its name
    let mut calls: Vec<(String, String)> = Vec::new();
    for content in contents {
        let role = match content.role.as_deref() {
            Some("model") => Role::Assistant,
            _ => Role::User,
        };
        let (results, parts): (Vec<ContentPart>, Vec<ContentPart>) = content
            .parts
            .into_iter()
            .partition(|p| p.as_tool_result().is_some());
        calls.extend(
            parts
                .iter()
                .filter_map(ContentPart::as_tool_call)
                .map(|c| (c.id.clone(), c.name.clone())),
        );
        if !parts.is_empty() {
            messages.push(ChatMessage::new(role, parts));
        }
        for result in results {
            let Some(result) = result.as_tool_result() else {
                continue;
            };
            let known = calls.iter().any(|(id, _)| *id == result.call_id);
            let call_id = match calls.iter().rev().find(|(_, name)| *name == result.call_id) {
                Some((id, _)) if !known => id.clone(),
                _ => result.call_id.clone(),
            };
            messages.push(ChatMessage::new(
                Role::Tool,
                vec![ContentPart::tool_result(
                    call_id,
                    result.content.clone(),
                    result.is_error,
                )],
            ));
        }
    }
    let extra = options.extra;
    let config = extra.get("generationConfig").and_then(Value::as_object);
    let mut chat = ChatOptions {
        max_tokens: options.max_output_tokens,
        temperature: options.temperature,
        reasoning_budget_tokens: options.thinking_budget.and_then(|b| u32::try_from(b).ok()),
        passthrough: options.passthrough,
        ..ChatOptions::default()
    };
    chat.response_format = match (options.response_mime_type.as_deref(), config) {
        (Some("application/json"), Some(config)) if config.contains_key("responseJsonSchema") => {
            Some(ResponseFormat::JsonSchema {
                name: "response".to_owned(),
                schema: config["responseJsonSchema"].clone(),
                strict: None,
            })
        }
        (Some("application/json"), _) => Some(ResponseFormat::JsonObject),
        _ => None,
    };
    if let Some(tools) = extra.get("tools") {
        chat.tools = tools_of(tools)?;
    }
    chat.tool_choice = extra
        .get("toolConfig")
        .and_then(|c| c.get("functionCallingConfig"))
        .map(choice_of)
        .transpose()?;
    Ok((messages, chat))
}

/// `tools: [{functionDeclarations: [{name, description, parameters | parametersJsonSchema}]}]`.
fn tools_of(tools: &Value) -> Result<Vec<ToolSpec>, ApiError> {
    let Value::Array(tools) = tools else {
        return Err(ApiError::bad_request("tools must be an array"));
    };
    let mut specs = Vec::new();
    for (t, tool) in tools.iter().enumerate() {
        let Some(declarations) = tool.get("functionDeclarations").and_then(Value::as_array) else {
            continue; // Google's own tools (search, code execution) go to Google keys only
        };
        for (d, declaration) in declarations.iter().enumerate() {
            let name = declaration
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "tools[{t}].functionDeclarations[{d}].name is required"
                    ))
                })?;
            let parameters = declaration
                .get("parametersJsonSchema")
                .or_else(|| declaration.get("parameters"))
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            let mut spec = ToolSpec::new(name, parameters);
            if let Some(description) = declaration.get("description").and_then(Value::as_str) {
                spec = spec.description(description);
            }
            specs.push(spec);
        }
    }
    Ok(specs)
}

/// `functionCallingConfig{mode, allowedFunctionNames}`.
fn choice_of(config: &Value) -> Result<ToolChoice, ApiError> {
    let allowed = config
        .get("allowedFunctionNames")
        .and_then(Value::as_array)
        .and_then(|names| names.first())
        .and_then(Value::as_str);
    match config.get("mode").and_then(Value::as_str) {
        None | Some("AUTO" | "MODE_UNSPECIFIED" | "VALIDATED") => Ok(ToolChoice::Auto),
        Some("NONE") => Ok(ToolChoice::None),
        Some("ANY") => Ok(allowed.map_or(ToolChoice::Required, |n| ToolChoice::Tool(n.to_owned()))),
        Some(other) => Err(ApiError::bad_request(format!(
            "toolConfig.functionCallingConfig.mode: unknown mode `{other}`"
        ))),
    }
}

/// Gemini's `finishReason` for a normalised one.
fn finish_reason(reason: &str) -> &str {
    match reason {
        "stop" | "tool_calls" => "STOP",
        "length" => "MAX_TOKENS",
        "content_filter" | "refusal" => "SAFETY",
        other => other,
    }
}

fn usage_metadata(u: &Usage) -> Value {
    json!({
        "promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens.saturating_sub(u.reasoning_tokens),
        "thoughtsTokenCount": u.reasoning_tokens,
        "cachedContentTokenCount": u.cached_tokens,
        "totalTokenCount": u.total_tokens
    })
}

fn call_part(id: &str, name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
    json!({"functionCall": {"id": id, "name": name, "args": args}})
}

/// A whole answer from a key of another vendor, in `generateContent`'s shape.
pub fn response(answer: &ChatResponse) -> Value {
    let mut parts = Vec::new();
    if !answer.content.is_empty() {
        parts.push(json!({"text": answer.content}));
    }
    for call in &answer.tool_calls {
        parts.push(call_part(&call.id, &call.name, &call.arguments));
    }
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(reason) = &answer.finish_reason {
        candidate["finishReason"] = json!(finish_reason(reason));
    }
    json!({"candidates": [candidate], "usageMetadata": usage_metadata(&answer.usage), "modelVersion": answer.model})
}

/// Writes a stream from a key of another vendor as Gemini chunks: text as it comes,
/// function calls whole (Gemini sends them in one part each) with the last chunk.
#[derive(Default)]
pub struct ChunkWriter {
    calls: Vec<(String, String, String)>,
}

impl ChunkWriter {
    /// The chunk for `chunk`, or `None` when it only added to a function call.
    pub fn chunk(&mut self, chunk: &StreamChunk) -> Option<Value> {
        for piece in &chunk.tool_calls {
            let index = piece.index as usize;
            if self.calls.len() <= index {
                self.calls.resize(index + 1, Default::default());
            }
            let call = &mut self.calls[index];
            if let Some(id) = &piece.id {
                call.0.clone_from(id);
            }
            if let Some(name) = &piece.name {
                call.1.clone_from(name);
            }
            call.2.push_str(&piece.arguments);
        }
        let mut parts: Vec<Value> = Vec::new();
        if !chunk.delta.is_empty() {
            parts.push(json!({"text": chunk.delta}));
        }
        if chunk.finish_reason.is_some() {
            parts.extend(
                self.calls
                    .drain(..)
                    .map(|(id, name, arguments)| call_part(&id, &name, &arguments)),
            );
        }
        if parts.is_empty() && chunk.finish_reason.is_none() && chunk.usage.is_none() {
            return None;
        }
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(reason) = &chunk.finish_reason {
            candidate["finishReason"] = json!(finish_reason(reason));
        }
        let mut body = Map::new();
        body.insert("candidates".into(), json!([candidate]));
        if let Some(usage) = &chunk.usage {
            body.insert("usageMetadata".into(), usage_metadata(usage));
        }
        body.insert("modelVersion".into(), json!(chunk.model));
        Some(Value::Object(body))
    }
}

impl Translation for ChunkWriter {
    fn chunk(&mut self, chunk: &StreamChunk, out: &mut Vec<u8>) {
        if let Some(body) = ChunkWriter::chunk(self, chunk) {
            write_sse_event(out, &body, b"\r\n\r\n");
        }
    }

    /// A Gemini stream just ends.
    fn finish(&mut self, _out: &mut Vec<u8>) {}

    /// A google.rpc error chunk, the stream passed through or not.
    fn error(&mut self, error: &ApiError, _passed_through: bool, out: &mut Vec<u8>) {
        let body = json!({"error": {"code": error.status.as_u16(), "message": error.message, "status": "INTERNAL"}});
        write_sse_event(out, &body, b"\r\n\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_calling_turn_becomes_a_tool_loop_and_answers_go_back_in_gemini_shape() {
        let body = br#"{"systemInstruction": {"parts": [{"text": "brief"}]},
            "contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]},
                         {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]},
                         {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"result": "18 C"}}}]}],
            "tools": [{"functionDeclarations": [{"name": "weather", "parametersJsonSchema": {"type": "object"}}]}, {"googleSearch": {}}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}},
            "generationConfig": {"maxOutputTokens": 64, "responseMimeType": "application/json"}}"#;
        let (messages, options) = to_chat(super::super::parse(body).ok().unwrap())
            .ok()
            .unwrap();
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::Tool]
        );
        let call = messages[2].tool_calls().next().unwrap();
        assert_eq!(
            (call.id.as_str(), call.name.as_str()),
            ("weather", "weather")
        );
        assert_eq!(
            messages[3].content[0].as_tool_result().unwrap().call_id,
            "weather"
        );
        // a call with an id, answered by name only (as the SDKs write it)
        let with_id = br#"{"contents": [{"role": "user", "parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "fc_9", "name": "weather", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"ok": 1}}}]}]}"#;
        let (answered, _) = to_chat(super::super::parse(with_id).ok().unwrap())
            .ok()
            .unwrap();
        assert_eq!(
            answered[2].content[0].as_tool_result().unwrap().call_id,
            "fc_9"
        );
        assert_eq!(options.tools.len(), 1);
        assert_eq!(
            options.tool_choice,
            Some(ToolChoice::Tool("weather".into()))
        );
        assert_eq!(options.max_tokens, Some(64));
        assert_eq!(options.response_format, Some(ResponseFormat::JsonObject));
        assert!(options.passthrough.is_some());

        let mut writer = ChunkWriter::default();
        let piece = |args: &str, first: bool| StreamChunk {
            tool_calls: vec![llm_rotate::ToolCallDelta {
                index: 0,
                id: first.then(|| "call_1".to_owned()),
                name: first.then(|| "weather".to_owned()),
                arguments: args.to_owned(),
            }],
            ..StreamChunk::default()
        };
        assert!(writer.chunk(&piece("{\"city\":", true)).is_none());
        assert!(writer.chunk(&piece("\"Paris\"}", false)).is_none());
        let last = writer
            .chunk(&StreamChunk {
                finish_reason: Some("tool_calls".into()),
                ..StreamChunk::default()
            })
            .unwrap();
        assert_eq!(
            last["candidates"][0]["content"]["parts"],
            json!([{"functionCall": {"id": "call_1", "name": "weather", "args": {"city": "Paris"}}}])
        );
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    }
}
