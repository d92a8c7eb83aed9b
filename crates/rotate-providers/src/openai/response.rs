//! Reading OpenAI answers: replies, usage, and the classification of every error shape
//! (OpenAI's `{"error":{…}}`, Mistral's flat body, OpenRouter's numeric codes, Azure's
//! content filter, bare gateway messages).

use http::{HeaderMap, StatusCode};
use rotate_core::content::ContentPart;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::ProviderReply;
use rotate_core::response::Usage;
use rotate_core::tool::{Reasoning, ToolCall};
use serde_json::Value;

use crate::errors::{malformed, shorten, status_error};
use crate::json::{field, fields, object, text, text_of, token_count};
use crate::ratelimit::openai_headroom;

/// Usage from an OpenAI `usage` object (absent or `null`: none; any other shape, or a
/// count that is not a count, is a `Decode` error).
pub(crate) fn usage(v: Option<&Value>) -> Result<Usage, ProviderError> {
    let Some(v) = object(v, "usage", "usage")? else {
        return Ok(Usage::default());
    };
    let [prompt, completion, total, prompt_details, completion_details] = fields(
        v,
        [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "prompt_tokens_details",
            "completion_tokens_details",
        ],
    );
    let n = |v: Option<&Value>, path: &[&str]| v.map_or(Ok(0), |v| token_count(v, path, "usage"));
    let prompt = n(prompt, &["prompt_tokens"])?;
    let completion = n(completion, &["completion_tokens"])?;
    let total = match total {
        Some(total) => token_count(total, &["total_tokens"], "usage")?,
        None => prompt + completion,
    };
    Ok(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: n(
            prompt_details.and_then(|d| field(d, "cached_tokens")),
            &["prompt_tokens_details", "cached_tokens"],
        )?,
        reasoning_tokens: n(
            completion_details.and_then(|d| field(d, "reasoning_tokens")),
            &["completion_tokens_details", "reasoning_tokens"],
        )?,
        ..Usage::default()
    })
}

/// Text of a message `content`: a string, null, or a list of parts whose text parts
/// hold strings; any other shape is a `Decode` error.
fn content_text(content: Option<&Value>) -> Result<String, ProviderError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts.iter().try_fold(String::new(), |mut out, part| {
            if !part.is_object() {
                return Err(malformed("response", "a `content` part is not an object"));
            }
            out.push_str(text(part, "text", "response")?.unwrap_or(""));
            Ok(out)
        }),
        Some(_) => Err(malformed(
            "response",
            "`content` is neither text nor a list of parts",
        )),
    }
}

/// The `tool_calls` of a message: each `{id, type: function, function: {name,
/// arguments}}` with string fields; any other shape is a `Decode` error.
fn tool_calls(calls: Option<&Value>) -> Result<Vec<ToolCall>, ProviderError> {
    let calls = match calls {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(malformed("response", "`tool_calls` is not a list")),
    };
    calls
        .iter()
        .map(|call| {
            let function = object(call.get("function"), "tool_calls[].function", "response")?
                .ok_or_else(|| malformed("response", "a tool call has no `function`"))?;
            let field = |v: &Value, name: &str| -> Result<String, ProviderError> {
                text(v, name, "response")?
                    .map(str::to_owned)
                    .ok_or_else(|| malformed("response", format!("a tool call has no `{name}`")))
            };
            Ok(ToolCall {
                id: field(call, "id")?,
                name: field(function, "name")?,
                arguments: text(function, "arguments", "response")?
                    .unwrap_or("")
                    .to_owned(),
            })
        })
        .collect()
}

/// Parses a non-streamed answer (each object's fields read in one pass over it).
pub(crate) fn parse(body: &[u8]) -> Result<ProviderReply, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("JSON response", e))?;
    let [error, choices, model, usage_field, provider] =
        fields(&raw, ["error", "choices", "model", "usage", "provider"]);
    if let Some(error) = error {
        let (message, code, kind_hint) = error_fields(error);
        return Err(ProviderError::new(
            kind_from_code(&code, &kind_hint, &message),
            message,
        ));
    }
    let choice = choices
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("response", "no `choices`"))?;
    let [message, finish_reason] = fields(choice, ["message", "finish_reason"]);
    let message = object(message, "choices[0].message", "response")?
        .ok_or_else(|| malformed("response", "no `choices[0].message`"))?;
    let [content, refusal, calls, reasoning] = fields(
        message,
        ["content", "refusal", "tool_calls", "reasoning_content"],
    );
    let content = content_text(content)?;
    let refusal = text_of(refusal, "refusal", "response")?.map(str::to_owned);
    let tool_calls = tool_calls(calls)?;
    let reasoning = text_of(reasoning, "reasoning_content", "response")?
        .filter(|t| !t.is_empty())
        .map(|t| {
            ContentPart::reasoning(Reasoning {
                text: t.to_owned(),
                signature: None,
                redacted: None,
                provider: String::new(),
            })
        })
        .into_iter()
        .collect();
    let finish_reason = if refusal.is_some() {
        Some("refusal".to_owned())
    } else {
        finish_reason.and_then(Value::as_str).map(str::to_owned)
    };
    Ok(ProviderReply {
        content,
        tool_calls,
        reasoning,
        refusal,
        model: model.and_then(Value::as_str).unwrap_or("").to_owned(),
        usage: usage(usage_field)?,
        finish_reason,
        upstream_provider: provider.and_then(Value::as_str).map(str::to_owned),
        headroom: None,
        raw,
        passthrough: false,
    })
}

/// (message, code, type) of an error object in any of the known shapes.
pub(crate) fn error_fields(error: &Value) -> (String, String, String) {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let mut code = text(error.get("code"));
    if let Some(inner) = error
        .get("innererror")
        .and_then(|i| i.get("code"))
        .and_then(Value::as_str)
    {
        if inner == "ResponsibleAIPolicyViolation" {
            code = "content_filter".to_owned();
        }
    }
    (
        shorten(&text(error.get("message"))),
        code,
        text(error.get("type")),
    )
}

/// The kind an error's code/type/message names, for errors without a useful status.
pub(crate) fn kind_from_code(code: &str, kind: &str, message: &str) -> ErrorKind {
    match (code, kind) {
        ("insufficient_quota", _) | (_, "insufficient_quota") => ErrorKind::QuotaExhausted,
        ("rate_limit_exceeded", _)
        | (_, "rate_limit_exceeded" | "rate_limited" | "requests" | "tokens") => {
            ErrorKind::RateLimited
        }
        ("context_length_exceeded", _) => ErrorKind::ContextLength,
        ("content_filter", _) => ErrorKind::ContentFilter,
        ("invalid_api_key", _) | (_, "authentication_error") => ErrorKind::Auth,
        (_, "invalid_request_error") if mentions_context(message) => ErrorKind::ContextLength,
        (_, "invalid_request_error") => ErrorKind::InvalidRequest,
        (_, "overloaded" | "overloaded_error") => ErrorKind::Overloaded,
        (numeric, _) if numeric.parse::<u16>().is_ok() => numeric
            .parse::<u16>()
            .map_or(ErrorKind::ServerError, |status| {
                kind_from_status(status, "", message)
            }),
        _ => ErrorKind::ServerError,
    }
}

fn mentions_context(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("maximum context length")
        || lower.contains("context length")
        || lower.contains("context_length")
}

/// The kind a status (refined by code and message) names.
fn kind_from_status(status: u16, code: &str, message: &str) -> ErrorKind {
    match status {
        429 if code == "insufficient_quota" => ErrorKind::QuotaExhausted,
        400 if code == "context_length_exceeded" || mentions_context(message) => {
            ErrorKind::ContextLength
        }
        400 if code == "content_filter" => ErrorKind::ContentFilter,
        _ => ErrorKind::from_status(status),
    }
}

/// Classifies a failed answer.
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now_unix_ms: u64,
) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (message, code, kind_hint) = match &parsed {
        Some(v) if v.get("error").is_some_and(Value::is_object) => error_fields(&v["error"]),
        Some(v) if v.get("message").is_some() => error_fields(v),
        _ => (
            shorten(String::from_utf8_lossy(body).trim()),
            String::new(),
            String::new(),
        ),
    };
    let code = if code.is_empty() {
        kind_hint.clone()
    } else {
        code
    };
    let kind = kind_from_status(status.as_u16(), &code, &message);
    let headroom = openai_headroom(headers);
    status_error(
        kind,
        message,
        status,
        headers,
        headroom.as_ref(),
        now_unix_ms,
    )
}
