//! `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` in
//! Gemini's wire format, as chat calls: the body is checked (contents, parts, system
//! instruction, generation config) and goes whole to a Google key the call lands on
//! (see [`Passthrough`]), whose answer is Google's own body or its own `alt=sse` chunks,
//! function calls, thought parts and signatures included; a key of another vendor gets
//! the translation and its answer is written in Gemini's shape. Errors come back as
//! google.rpc errors.

use base64::Engine as _;
use http::{Response, StatusCode};
use llm_rotate::{
    Content, ContentPart, GenerateOptions, LMRotate, Passthrough, Reasoning, ToolCall, WireDialect,
};
use serde_json::{json, Map, Value};

use super::answer::{served, streamed};
use super::http::{json_response, ApiError, Body, Dialect};

mod chat;

/// The provider name thought parts from Gemini clients are sent back to.
pub const SIGNER: &str = "google";

/// Errors of these routes speak google.rpc's shape.
pub const DIALECT: Dialect = Dialect::Google;

/// The method a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Generate,
    Stream,
    /// `:countTokens`, estimated here.
    CountTokens,
    /// `:embedContent`.
    Embed,
    /// `:batchEmbedContents`.
    BatchEmbed,
}

/// `(model, method)` of `/v1beta/models/{model}:{method}` (or `/v1/…`).
pub fn route(path: &str) -> Option<(&str, Method)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "countTokens" => Method::CountTokens,
        "embedContent" => Method::Embed,
        "batchEmbedContents" => Method::BatchEmbed,
        _ => return None,
    };
    (!model.is_empty()).then_some((model, method))
}

/// A parsed request: contents and options.
pub struct Generate {
    pub contents: Vec<Content>,
    pub options: GenerateOptions,
}

/// One part, checked; function calls, function responses and thought parts are read
/// too (the body itself is what Google keys receive, signatures and all).
fn part(value: &Value, at: &str) -> Result<ContentPart, ApiError> {
    if let Some(call) = value
        .get("functionCall")
        .or_else(|| value.get("function_call"))
    {
        let name = call
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{at}.functionCall.name is required")))?;
        let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
        if !args.is_object() {
            return Err(ApiError::bad_request(format!(
                "{at}.functionCall.args must be an object"
            )));
        }
        let id = call.get("id").and_then(Value::as_str).unwrap_or(name);
        return Ok(ContentPart::tool_call(ToolCall::new(
            id,
            name,
            args.to_string(),
        )));
    }
    if let Some(answer) = value
        .get("functionResponse")
        .or_else(|| value.get("function_response"))
    {
        let name = answer.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad_request(format!("{at}.functionResponse.name is required"))
        })?;
        let response = answer
            .get("response")
            .filter(|r| r.is_object())
            .ok_or_else(|| {
                ApiError::bad_request(format!("{at}.functionResponse.response must be an object"))
            })?;
        let id = answer.get("id").and_then(Value::as_str).unwrap_or(name);
        return Ok(ContentPart::tool_result(
            id,
            vec![ContentPart::text(response.to_string())],
            false,
        ));
    }
    if value.get("thought").and_then(Value::as_bool) == Some(true) {
        // a thought part: Google's own, sent back only to Google keys (in the body)
        let text = value
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let signature = value.get("thoughtSignature").and_then(Value::as_str);
        return Ok(ContentPart::reasoning(Reasoning {
            text: text.to_owned(),
            signature: signature.map(str::to_owned),
            redacted: None,
            provider: SIGNER.to_owned(),
        }));
    }
    if let Some(text) = value.get("text") {
        return text
            .as_str()
            .map(ContentPart::text)
            .ok_or_else(|| ApiError::bad_request(format!("{at}.text must be a string")));
    }
    if let Some(inline) = value.get("inlineData").or_else(|| value.get("inline_data")) {
        let mime = inline
            .get("mimeType")
            .or_else(|| inline.get("mime_type"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{at}.inlineData.mimeType is required"))
            })?;
        let data = inline
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{at}.inlineData.data is required")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| {
                ApiError::bad_request(format!("{at}.inlineData.data is not base64: {e}"))
            })?;
        return Ok(match mime {
            "application/pdf" => ContentPart::pdf_bytes(bytes),
            m if m.starts_with("image/") => ContentPart::image_bytes(bytes, Some(m)),
            m => ContentPart::audio(bytes, m),
        });
    }
    if let Some(file) = value.get("fileData").or_else(|| value.get("file_data")) {
        let text = |a: &str, b: &str| file.get(a).or_else(|| file.get(b)).and_then(Value::as_str);
        let uri = text("fileUri", "file_uri")
            .ok_or_else(|| ApiError::bad_request(format!("{at}.fileData.fileUri is required")))?;
        let mime = text("mimeType", "mime_type").unwrap_or("application/octet-stream");
        return Ok(ContentPart::file(uri, mime));
    }
    Err(ApiError::bad_request(format!(
        "{at} must have text, inlineData, fileData, functionCall or functionResponse"
    )))
}

fn number<T: TryFrom<i64>>(config: &Map<String, Value>, name: &str) -> Result<Option<T>, ApiError> {
    match config.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "generationConfig.{name} must be an integer in range"
                ))
            }),
    }
}

fn float(config: &Map<String, Value>, name: &str) -> Result<Option<f32>, ApiError> {
    match config.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(|f| Some(f as f32)).ok_or_else(|| {
            ApiError::bad_request(format!("generationConfig.{name} must be a number"))
        }),
    }
}

/// Parses and checks a request body.
pub fn parse(body: &[u8]) -> Result<Generate, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON payload received. {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let Some(Value::Array(raw_contents)) = object.remove("contents") else {
        return Err(ApiError::bad_request(
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    };
    let mut contents = Vec::with_capacity(raw_contents.len());
    for (c, content) in raw_contents.iter().enumerate() {
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(format!("contents[{c}].parts must be a non-empty array"))
            })?;
        let parts = parts
            .iter()
            .enumerate()
            .map(|(p, v)| part(v, &format!("contents[{c}].parts[{p}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let role = match content.get("role").and_then(Value::as_str) {
            None | Some("user") => Some("user".to_owned()),
            Some("model") => Some("model".to_owned()),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "contents[{c}].role: unknown role `{other}`"
                )))
            }
        };
        contents.push(Content { role, parts });
    }
    let system_instruction = object
        .remove("systemInstruction")
        .or_else(|| object.remove("system_instruction"))
        .map(|s| {
            s.get("parts")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .ok_or_else(|| ApiError::bad_request("systemInstruction.parts must be an array"))
        })
        .transpose()?;
    let mut config = match object
        .remove("generationConfig")
        .or_else(|| object.remove("generation_config"))
    {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("generationConfig must be an object")),
    };
    let options = GenerateOptions {
        system_instruction,
        response_mime_type: config
            .get("responseMimeType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        max_output_tokens: number(&config, "maxOutputTokens")?,
        temperature: float(&config, "temperature")?,
        top_p: float(&config, "topP")?,
        seed: number(&config, "seed")?,
        thinking_budget: config
            .get("thinkingConfig")
            .and_then(|t| t.get("thinkingBudget"))
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok()),
        ..GenerateOptions::default()
    };
    for handled in [
        "responseMimeType",
        "maxOutputTokens",
        "temperature",
        "topP",
        "seed",
    ] {
        config.remove(handled);
    }
    if let Some(Value::Object(thinking)) = config.get_mut("thinkingConfig") {
        thinking.remove("thinkingBudget");
        if thinking.is_empty() {
            config.remove("thinkingConfig");
        }
    }
    let mut extra = object;
    if !config.is_empty() {
        extra.insert("generationConfig".to_owned(), Value::Object(config));
    }
    Ok(Generate {
        contents,
        options: GenerateOptions {
            extra,
            passthrough: Some(
                Passthrough::from_json(WireDialect::Gemini, body).map_err(|e| {
                    ApiError::bad_request(format!("Invalid JSON payload received. {e}"))
                })?,
            ),
            ..options
        },
    })
}

/// Parses a `:countTokens` body: `{contents}` or `{generateContentRequest: {…}}`.
pub fn parse_count(body: &[u8]) -> Result<Generate, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON payload received. {e}")))?;
    match value.get("generateContentRequest") {
        Some(inner) => parse(inner.to_string().as_bytes()),
        None => parse(body),
    }
}

/// `:countTokens`: an estimate made here (about four characters a token, images and
/// files a flat 258 as Gemini counts an image), as for the Messages route.
pub fn count_tokens(request: &Generate) -> Response<Body> {
    let chars: usize = request
        .options
        .system_instruction
        .as_deref()
        .map_or(0, str::len)
        + request
            .contents
            .iter()
            .flat_map(|c| &c.parts)
            .map(|part| match part.as_text() {
                Some(text) => text.len(),
                None => 258 * 4,
            })
            .sum::<usize>();
    let tokens = chars.div_ceil(4).max(1);
    json_response(StatusCode::OK, &json!({"totalTokens": tokens}))
}

/// Serves a parsed request for `model`, streamed or not, as a chat call: Google keys get
/// the body whole and their answer comes back as sent; keys of other vendors get the
/// translation and their answer is written in Gemini's shape.
pub async fn generate(
    client: &LMRotate,
    model: &str,
    stream: bool,
    request: Generate,
    hints: super::settings::CallHints,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    let (messages, mut options) = chat::to_chat(request)?;
    hints.apply(&mut options, model)?;
    if !stream {
        let answer = client
            .chat(model, &messages, options)
            .await
            .map_err(|e| ApiError::from(&e))?;
        let (provider, key, latency) = (&answer.provider, &answer.key_id, answer.latency_ms);
        return Ok(if answer.passthrough {
            served(&answer.raw, provider, key, latency)
        } else {
            served(&chat::response(&answer), provider, key, latency)
        });
    }
    let stream = client
        .chat_stream(model, &messages, options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    Ok((streamed(stream, chat::ChunkWriter::default()), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_bodies_parse() {
        assert_eq!(
            route("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some(("gemini-2.5-flash", Method::Generate))
        );
        assert_eq!(
            route("/v1/models/m:streamGenerateContent"),
            Some(("m", Method::Stream))
        );
        assert_eq!(route("/v1beta/models/:generateContent"), None);
        assert_eq!(
            route("/v1beta/models/m:countTokens"),
            Some(("m", Method::CountTokens))
        );
        assert_eq!(route("/v1beta/models/m:predict"), None);
        let body = br#"{"contents": [{"parts": [{"text": "hi"}, {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}}]}],
            "systemInstruction": {"parts": [{"text": "brief"}]},
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 10, "topK": 3, "thinkingConfig": {"thinkingBudget": 64}},
            "safetySettings": []}"#;
        let parsed = parse(body).ok().unwrap();
        assert_eq!(parsed.contents[0].parts[1].data(), Some(&b"%PDF"[..]));
        assert_eq!(parsed.options.system_instruction.as_deref(), Some("brief"));
        assert_eq!(parsed.options.max_output_tokens, Some(10));
        assert_eq!(parsed.options.thinking_budget, Some(64));
        assert_eq!(parsed.options.extra["generationConfig"], json!({"topK": 3}));
        assert!(parsed.options.extra.contains_key("safetySettings"));
        for bad in [&b"nope"[..], b"{}", br#"{"contents": [{"parts": []}]}"#, br#"{"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]}]}"#, br#"{"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}"#, br#"{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "ten"}}"#] {
            assert!(parse(bad).is_err());
        }
    }
}
