//! Reading Anthropic answers: text blocks as content, `tool_use` blocks as tool calls
//! (their `input` as the arguments' JSON text), `thinking` and `redacted_thinking` as
//! reasoning with signatures, stop reasons under the common names, usage with cache
//! tokens, and the classification of `{"type":"error","error":{…}}` bodies.

use http::{HeaderMap, StatusCode};
use rotate_core::content::ContentPart;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::ProviderReply;
use rotate_core::response::Usage;
use rotate_core::tool::{Reasoning, ToolCall};
use serde_json::Value;

use crate::errors::{malformed, shorten, status_error};
use crate::json::{count, object, text};
use crate::ratelimit::anthropic_headroom;

/// Anthropic's stop reason under the common names (stop, length, tool_calls, content_filter).
pub(crate) fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "refusal",
        other => other,
    }
    .to_owned()
}

/// Usage from an Anthropic `usage` object: prompt = input + cache creation + cache
/// reads (absent or `null`: none; any other shape or a count that is not a count is a
/// `Decode` error).
pub(crate) fn usage(v: Option<&Value>) -> Result<Usage, ProviderError> {
    let Some(v) = object(v, "usage", "usage")? else {
        return Ok(Usage::default());
    };
    let n = |path: &[&str]| count(v, path, "usage").map(Option::unwrap_or_default);
    let cache_reads = n(&["cache_read_input_tokens"])?;
    let cache_writes = n(&["cache_creation_input_tokens"])?;
    let prompt = n(&["input_tokens"])? + cache_writes + cache_reads;
    let completion = n(&["output_tokens"])?;
    Ok(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: cache_reads,
        reasoning_tokens: n(&["output_tokens_details", "thinking_tokens"])?,
        cache_write_tokens: cache_writes,
    })
}

/// Parses a non-streamed answer.
pub(crate) fn parse(body: &[u8]) -> Result<ProviderReply, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("JSON response", e))?;
    if raw.get("type").and_then(Value::as_str) == Some("error") {
        let (kind, message) = error_kind(raw.get("error").unwrap_or(&Value::Null), None);
        return Err(ProviderError::new(kind, message));
    }
    let blocks = raw
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("response", "no `content`"))?;
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for block in blocks {
        let field = |name: &str| -> Result<&str, ProviderError> {
            text(block, name, "response")?
                .ok_or_else(|| malformed("response", format!("a content block has no `{name}`")))
        };
        match block.get("type").and_then(Value::as_str) {
            Some("text") => content.push_str(field("text")?),
            Some("tool_use") => {
                let input = block
                    .get("input")
                    .filter(|i| i.is_object())
                    .ok_or_else(|| {
                        malformed("response", "a `tool_use` block's `input` is not an object")
                    })?;
                tool_calls.push(ToolCall::new(
                    field("id")?,
                    field("name")?,
                    input.to_string(),
                ));
            }
            Some("thinking") => reasoning.push(ContentPart::reasoning(Reasoning {
                text: field("thinking")?.to_owned(),
                signature: text(block, "signature", "response")?.map(str::to_owned),
                redacted: None,
                provider: String::new(),
            })),
            Some("redacted_thinking") => reasoning.push(ContentPart::reasoning(Reasoning {
                text: String::new(),
                signature: None,
                redacted: Some(field("data")?.to_owned()),
                provider: String::new(),
            })),
            _ => {}
        }
    }
    let stop_reason = raw.get("stop_reason").and_then(Value::as_str);
    let refusal = (stop_reason == Some("refusal")).then(|| content.clone());
    Ok(ProviderReply {
        content,
        model: raw
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        usage: usage(raw.get("usage"))?,
        finish_reason: stop_reason.map(finish_reason),
        upstream_provider: None,
        headroom: None,
        tool_calls,
        reasoning,
        refusal,
        raw,
        passthrough: false,
    })
}

/// The kind and message of an Anthropic error object (`status` when there was one).
pub(crate) fn error_kind(error: &Value, status: Option<u16>) -> (ErrorKind, String) {
    let etype = error.get("type").and_then(Value::as_str).unwrap_or("");
    let message = shorten(error.get("message").and_then(Value::as_str).unwrap_or(""));
    let lower = message.to_ascii_lowercase();
    let kind = if lower.contains("prompt is too long") {
        ErrorKind::ContextLength
    } else if lower.contains("credit balance is too low") {
        ErrorKind::QuotaExhausted
    } else {
        match etype {
            "billing_error" => ErrorKind::QuotaExhausted,
            "authentication_error" | "permission_error" => ErrorKind::Auth,
            "rate_limit_error" => ErrorKind::RateLimited,
            "overloaded_error" => ErrorKind::Overloaded,
            "timeout_error" => ErrorKind::Timeout,
            "api_error" => ErrorKind::ServerError,
            "invalid_request_error" | "not_found_error" | "request_too_large" => {
                ErrorKind::InvalidRequest
            }
            // Anthropic's 504 is its `timeout_error`
            _ if status == Some(504) => ErrorKind::Timeout,
            _ => status.map_or(ErrorKind::ServerError, ErrorKind::from_status),
        }
    };
    (kind, message)
}

/// Classifies a failed answer.
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now_unix_ms: u64,
) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .cloned()
        .unwrap_or_else(
            || serde_json::json!({"message": String::from_utf8_lossy(body).trim().to_owned()}),
        );
    let (kind, message) = error_kind(&error, Some(status.as_u16()));
    let headroom = anthropic_headroom(headers, now_unix_ms);
    status_error(
        kind,
        message,
        status,
        headers,
        headroom.as_ref(),
        now_unix_ms,
    )
}
