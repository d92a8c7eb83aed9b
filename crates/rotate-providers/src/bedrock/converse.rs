//! The neutral conversation as a Converse request:
//!
//! - system messages become `system` text blocks;
//! - parts become content blocks: `text`, `image` (png, jpeg, gif or webp bytes, or an
//!   `s3://` file), `document` (PDF bytes, or an `s3://` file), `toolUse` (arguments as
//!   the `input` object), `toolResult` (its parts as `text` / `image` / `document`
//!   blocks, `status: error` for a failed tool), and the `reasoningContent` this
//!   provider signed, sent back verbatim (other vendors' reasoning is left out);
//! - consecutive turns of one role merge (tool results answer in one `user` turn);
//! - `max_tokens` and `temperature` go in `inferenceConfig`, tools in `toolConfig`
//!   (Converse has no "none" choice: the tools are sent and the model chooses), a
//!   thinking budget in `additionalModelRequestFields.thinking`;
//! - `extra` merges last: Converse's own top-level fields (`inferenceConfig`,
//!   `guardrailConfig`, …) as given, `top_p` and `stop` into `inferenceConfig`, any
//!   other field into `additionalModelRequestFields` (the model's own parameters).
//!
//! [`cannot_carry`] names what has no form here: audio, images by web URL, files that
//! are not on S3, image types Converse does not take, JSON answer formats, tool-call
//! arguments that are not a JSON object.

use base64::Engine as _;
use rotate_core::content::{ContentPart, PartKind};
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::message::{ChatRequest, Role};
use rotate_core::provider::ProviderCall;
use rotate_core::tool::ToolChoice;
use serde_json::{json, Map, Value};

use crate::errors::malformed;
use crate::request::decimal;

/// Converse's own top-level request fields, which `extra` may set as they are.
const CONVERSE_FIELDS: &[&str] = &[
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "system",
    "messages",
];

/// The image format Converse names a MIME type by.
fn image_format(mime: &str) -> Option<&'static str> {
    match mime {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// Why this request has no Converse form, if it has none.
pub(crate) fn cannot_carry(request: &ChatRequest) -> Option<String> {
    if request.response_format.is_some() {
        return Some(
            "Bedrock's Converse API has no JSON answer format (ask for a tool call instead)"
                .to_owned(),
        );
    }
    for (i, message) in request.messages.iter().enumerate() {
        let inner = message.content.iter().flat_map(|part| {
            let nested = part
                .as_tool_result()
                .map(|r| r.content.as_slice())
                .unwrap_or(&[]);
            std::iter::once(part).chain(nested.iter())
        });
        for part in inner {
            if let Some(problem) = part_problem(part) {
                return Some(format!("messages[{i}]: {problem}"));
            }
        }
    }
    None
}

fn part_problem(part: &ContentPart) -> Option<String> {
    let mime = part.mime_type().unwrap_or("");
    match part.kind() {
        PartKind::Audio => Some("Bedrock's Converse API takes no audio input".to_owned()),
        PartKind::ImageBytes if image_format(mime).is_none() => Some(format!(
            "Converse takes png, jpeg, gif and webp images, not `{mime}`"
        )),
        PartKind::ImageUrl => match part.data_url() {
            Some((media_type, _)) if image_format(media_type).is_some() => None,
            Some((media_type, _)) => Some(format!(
                "Converse takes png, jpeg, gif and webp images, not `{media_type}`"
            )),
            None => Some("Converse takes images as bytes or from S3, not by web URL".to_owned()),
        },
        PartKind::File => {
            let uri = part.file_uri().unwrap_or("");
            if !uri.starts_with("s3://") {
                return Some(format!(
                    "Converse reads files from S3 (`s3://…`), not `{uri}`"
                ));
            }
            (image_format(mime).is_none() && mime != "application/pdf")
                .then(|| format!("Converse takes S3 images and PDFs, not `{mime}`"))
        }
        PartKind::ToolCall => {
            let call = part.as_tool_call()?;
            (!call.arguments_json().is_ok_and(|a| a.is_object())).then(|| {
                format!(
                    "the arguments of tool call `{}` are not a JSON object, which Converse's `toolUse.input` must be",
                    call.id
                )
            })
        }
        _ => None,
    }
}

fn encoded(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// One part as a content block (`None`: left out). `documents` numbers the
/// documents, whose `name` Converse requires.
fn block(part: &ContentPart, provider: &str, documents: &mut usize) -> Option<Value> {
    let mime = part.mime_type().unwrap_or("");
    let mut document = |source: Value| {
        *documents += 1;
        json!({"document": {"format": "pdf", "name": format!("document-{documents}"), "source": source}})
    };
    Some(match part.kind() {
        PartKind::Text => json!({"text": part.as_text()?}),
        PartKind::ImageBytes => json!({"image": {
            "format": image_format(mime)?,
            "source": {"bytes": encoded(part.data()?)}
        }}),
        PartKind::ImageUrl => {
            let (media_type, data) = part.data_url()?;
            json!({"image": {"format": image_format(media_type)?, "source": {"bytes": data}}})
        }
        PartKind::PdfBytes => document(json!({"bytes": encoded(part.data()?)})),
        PartKind::File => {
            let location = json!({"s3Location": {"uri": part.file_uri()?}});
            match image_format(mime) {
                Some(format) => json!({"image": {"format": format, "source": location}}),
                None => document(location),
            }
        }
        PartKind::ToolCall => {
            let call = part.as_tool_call()?;
            json!({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments_json().ok()?}})
        }
        PartKind::ToolResult => {
            let result = part.as_tool_result()?;
            let content: Vec<Value> = result
                .content
                .iter()
                .filter_map(|p| block(p, provider, documents))
                .collect();
            let mut block =
                json!({"toolResult": {"toolUseId": result.call_id, "content": content}});
            if result.is_error {
                block["toolResult"]["status"] = json!("error");
            }
            block
        }
        PartKind::Reasoning => {
            let reasoning = part.as_reasoning()?;
            if reasoning.provider != provider {
                return None;
            }
            match &reasoning.redacted {
                Some(data) => json!({"reasoningContent": {"redactedContent": data}}),
                None => {
                    let mut text = json!({"text": reasoning.text});
                    if let Some(signature) = &reasoning.signature {
                        text["signature"] = json!(signature);
                    }
                    json!({"reasoningContent": {"reasoningText": text}})
                }
            }
        }
        PartKind::Audio => return None,
    })
}

/// The `system` blocks and the `messages` of a request.
fn turns(request: &ChatRequest, provider: &str) -> (Vec<Value>, Vec<Value>) {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut documents = 0;
    for message in &request.messages {
        let role = match message.role {
            Role::System => {
                system.push(json!({"text": message.text()}));
                continue;
            }
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        let blocks: Vec<Value> = message
            .content
            .iter()
            .filter_map(|part| block(part, provider, &mut documents))
            .collect();
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    (system, messages)
}

/// `toolConfig`, when the request has tools.
fn tool_config(request: &ChatRequest) -> Option<Value> {
    if request.tools.is_empty() {
        return None;
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            let mut spec = json!({"name": tool.name, "inputSchema": {"json": tool.parameters}});
            if let Some(description) = &tool.description {
                spec["description"] = json!(description);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let mut config = json!({ "tools": tools });
    let choice = match &request.tool_choice {
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Tool(name)) => Some(json!({"tool": {"name": name}})),
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::None) | None => None,
    };
    if let Some(choice) = choice {
        config["toolChoice"] = choice;
    }
    Some(config)
}

/// The Converse body of a call.
pub(crate) fn body(call: &ProviderCall) -> Result<Vec<u8>, ProviderError> {
    let request = &call.request;
    let (system, messages) = turns(request, &call.provider);
    if messages.first().is_none_or(|m| m["role"] != "user") {
        return Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            "a Converse conversation needs at least one message and must start with a user message",
        ));
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(max_tokens) = request.max_tokens {
        inference.insert("maxTokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        inference.insert("temperature".into(), decimal(temperature));
    }
    let mut model_fields = Map::new();
    if let Some(budget) = request.reasoning_budget_tokens {
        model_fields.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(effort) = &request.reasoning_effort {
        model_fields.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(tools) = tool_config(request) {
        body.insert("toolConfig".into(), tools);
    }
    for (key, value) in &request.extra {
        match key.as_str() {
            "top_p" | "topP" => {
                inference.insert("topP".into(), value.clone());
            }
            "stop" | "stopSequences" => {
                let stops = match value {
                    Value::String(one) => json!([one]),
                    other => other.clone(),
                };
                inference.insert("stopSequences".into(), stops);
            }
            field if CONVERSE_FIELDS.contains(&field) => {
                body.insert(key.clone(), value.clone());
            }
            _ => {
                model_fields.insert(key.clone(), value.clone());
            }
        }
    }
    if !inference.is_empty() {
        let entry = body
            .entry("inferenceConfig")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(given) = entry.as_object_mut() {
            for (key, value) in inference {
                given.entry(key).or_insert(value);
            }
        }
    }
    if !model_fields.is_empty() {
        let entry = body
            .entry("additionalModelRequestFields")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(given) = entry.as_object_mut() {
            for (key, value) in model_fields {
                given.entry(key).or_insert(value);
            }
        }
    }
    serde_json::to_vec(&Value::Object(body)).map_err(|e| malformed("request", e))
}
