//! `POST /v1/chat/completions` and `GET /v1/models` in OpenAI's wire format: the request
//! becomes a `chat` (or `chat_stream`) call, the answer a `chat.completion` object or
//! `chat.completion.chunk` events ending in `data: [DONE]`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use llm_rotate::{
    ChatMessage, ChatOptions, ChatResponse, Clock, LMRotate, LMRotateConfig, SystemClock, Usage,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::http::{json_response, sse_response, ApiError, Body, Dialect};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn completion_id() -> String {
    format!("chatcmpl-llmr{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

fn now_secs() -> u64 {
    SystemClock.unix_ms() / 1000
}

/// Fields handled here rather than forwarded in `extra`.
const CONSUMED: [&str; 8] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "n",
];

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Value>,
}

/// A parsed chat completion request.
pub struct ChatCompletion {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    include_usage: bool,
    pub options: ChatOptions,
}

fn field_error(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_type",
        format!("`{name}` must be {expected}."),
    )
}

fn text_of(content: Option<Value>, index: usize) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    (kind, _) => {
                        return Err(ApiError::bad_request(format!(
                            "messages[{index}].content: parts of type `{}` are not supported on this route; send images and PDFs through :generateContent",
                            kind.unwrap_or("?")
                        )))
                    }
                }
            }
            Ok(text)
        }
        Some(_) => Err(field_error(
            &format!("messages[{index}].content"),
            "a string or an array of text parts",
        )),
    }
}

/// Parses and checks a request body.
pub fn parse(body: &[u8]) -> Result<ChatCompletion, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let model = match object.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "missing_required_parameter",
                "you must provide a model parameter",
            ))
        }
        _ => return Err(field_error("model", "a non-empty string")),
    };
    let raw_messages = match object.remove("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "missing_required_parameter",
                "Missing required parameter: 'messages'.",
            ))
        }
        _ => return Err(field_error("messages", "a non-empty array")),
    };
    let mut messages = Vec::with_capacity(raw_messages.len());
    for (i, raw) in raw_messages.into_iter().enumerate() {
        let message: Message = serde_json::from_value(raw)
            .map_err(|e| ApiError::bad_request(format!("messages[{i}]: {e}")))?;
        let text = text_of(message.content, i)?;
        messages.push(match message.role.as_str() {
            "system" | "developer" => ChatMessage::system(text),
            "user" => ChatMessage::user(text),
            "assistant" => ChatMessage::assistant(text),
            "tool" => ChatMessage {
                role: llm_rotate::Role::Tool,
                content: text,
            },
            other => {
                return Err(ApiError::bad_request(format!(
                    "messages[{i}].role: unknown role `{other}`"
                )))
            }
        });
    }
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error("stream", "a boolean")),
    };
    let include_usage = object
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max_tokens = match object
        .get("max_completion_tokens")
        .or_else(|| object.get("max_tokens"))
    {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| field_error("max_tokens", "a positive integer"))?,
        ),
    };
    let temperature = match object.get("temperature") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| field_error("temperature", "a number"))? as f32,
        ),
    };
    if object
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n != 1)
    {
        return Err(ApiError::bad_request("Only `n: 1` is supported."));
    }
    let extra: Map<String, Value> = object
        .into_iter()
        .filter(|(k, _)| !CONSUMED.contains(&k.as_str()))
        .collect();
    Ok(ChatCompletion {
        model,
        messages,
        stream,
        include_usage,
        options: ChatOptions {
            max_tokens,
            temperature,
            extra,
            ..ChatOptions::default()
        },
    })
}

/// OpenAI's finish reason for a vendor's.
fn finish_reason(reason: Option<&str>) -> Value {
    match reason {
        None => Value::Null,
        Some("stop" | "end_turn" | "STOP" | "stop_sequence") => json!("stop"),
        Some("length" | "max_tokens" | "MAX_TOKENS") => json!("length"),
        Some("tool_calls" | "tool_use") => json!("tool_calls"),
        Some(
            "content_filter" | "SAFETY" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII"
            | "RECITATION",
        ) => json!("content_filter"),
        Some(other) => json!(other.to_ascii_lowercase()),
    }
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens}
    })
}

/// The `chat.completion` object of an answer.
pub fn completion_body(answer: &ChatResponse) -> Value {
    json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": now_secs(),
        "model": answer.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason(answer.finish_reason.as_deref()).as_str().map_or(json!("stop"), |r| json!(r))
        }],
        "usage": usage_json(&answer.usage),
        "system_fingerprint": null
    })
}

/// Serves a parsed request.
pub async fn complete(
    client: &LMRotate,
    request: ChatCompletion,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    if !request.stream {
        let answer = client
            .chat(&request.model, &request.messages, request.options)
            .await
            .map_err(|e| ApiError::from(&e))?;
        let mut response = json_response(StatusCode::OK, &completion_body(&answer));
        name_the_key(&mut response, &answer.provider, &answer.key_id);
        return Ok((response, Some(answer.latency_ms)));
    }
    let stream = client
        .chat_stream(&request.model, &request.messages, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let id = completion_id();
    let created = now_secs();
    let include_usage = request.include_usage;
    let mut first = true;
    let mut usage: Option<Usage> = None;
    let events = stream
        .map(move |item| match item {
            Ok(chunk) => {
                if chunk.usage.is_some() {
                    usage = chunk.usage;
                }
                let mut delta = json!({"content": chunk.delta});
                if std::mem::replace(&mut first, false) {
                    delta["role"] = json!("assistant");
                }
                let mut out = event(&json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": chunk.model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason(chunk.finish_reason.as_deref())}]
                }));
                if chunk.finish_reason.is_some() && include_usage {
                    if let Some(u) = usage {
                        out.push_str(&event(&json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": chunk.model,
                            "choices": [], "usage": usage_json(&u)
                        })));
                    }
                }
                Bytes::from(out)
            }
            Err(error) => {
                let api = ApiError::from(&error);
                Bytes::from(event(&json!({"error": {"message": api.message, "type": api.kind, "param": null, "code": api.code}})))
            }
        })
        .chain(futures_util::stream::once(async { Bytes::from_static(b"data: [DONE]\n\n") }));
    Ok((sse_response(events), None))
}

fn event(value: &Value) -> String {
    format!("data: {value}\n\n")
}

/// Says which provider and key served (ids only, never values).
pub fn name_the_key(response: &mut Response<Body>, provider: &str, key_id: &str) {
    for (name, value) in [
        ("x-llm-rotate-provider", provider),
        ("x-llm-rotate-key-id", key_id),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// `GET /v1/models`: every model name the config answers to.
pub fn models(config: &LMRotateConfig) -> Response<Body> {
    let mut data: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in config.fallback_chains.keys() {
        if seen.insert(name.clone()) {
            data.push(
                json!({"id": name, "object": "model", "created": 0, "owned_by": "llm-rotate"}),
            );
        }
    }
    let providers: std::collections::BTreeSet<&str> =
        config.keys.iter().map(|k| k.provider.as_str()).collect();
    for provider in providers {
        let Some(settings) = config.provider(provider) else {
            continue;
        };
        for name in settings.models.iter().chain(settings.aliases.keys()) {
            if seen.insert(name.clone()) {
                data.push(
                    json!({"id": name, "object": "model", "created": 0, "owned_by": provider}),
                );
            }
        }
        for key in config.keys.iter().filter(|k| k.provider == provider) {
            for name in &key.models {
                if seen.insert(name.clone()) {
                    data.push(
                        json!({"id": name, "object": "model", "created": 0, "owned_by": provider}),
                    );
                }
            }
        }
    }
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}

/// Errors of these routes speak OpenAI's shape.
pub const DIALECT: Dialect = Dialect::OpenAi;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_into_chat_calls_and_bad_ones_say_why() {
        let ok = parse(br#"{"model": "gpt-4o", "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_completion_tokens": 9, "temperature": 0.5, "top_p": 0.9, "stream": true, "stream_options": {"include_usage": true}}"#).ok().unwrap();
        assert_eq!(ok.model, "gpt-4o");
        assert_eq!(
            ok.messages,
            vec![ChatMessage::system("be brief"), ChatMessage::user("hi")]
        );
        assert!(ok.stream && ok.include_usage);
        assert_eq!(ok.options.max_tokens, Some(9));
        assert_eq!(ok.options.extra.get("top_p"), Some(&json!(0.9)));
        assert!(!ok.options.extra.contains_key("stream_options"));
        for (body, needle) in [
            (&b"{"[..], "not valid JSON"),
            (b"[]", "JSON object"),
            (br#"{"messages": [{"role": "user", "content": "x"}]}"#, "model"),
            (br#"{"model": 3, "messages": []}"#, "`model`"),
            (br#"{"model": "m"}"#, "messages"),
            (br#"{"model": "m", "messages": "hi"}"#, "`messages`"),
            (br#"{"model": "m", "messages": [{"content": "x"}]}"#, "messages[0]"),
            (br#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#, "unknown role"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#, "content"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#, "image_url"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, "`stream`"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}"#, "max_tokens"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}"#, "n: 1"),
        ] {
            let error = parse(body).err().unwrap();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains(needle), "{needle}: {}", error.message);
        }
    }
}
