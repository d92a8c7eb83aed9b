//! Reading Gemini answers: a reply's text (thought parts excluded), finish reason and
//! usage (thinking tokens counted), blocked prompts and safety stops as content-filter
//! errors, and the classification of google.rpc error bodies into [`ErrorKind`]s.

use std::time::Duration;

use http::StatusCode;
use rotate_core::content::ContentPart;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::{ProviderReply, StreamDelta};
use rotate_core::response::Usage;
use rotate_core::tool::{Reasoning, ToolCall, ToolCallDelta};
use rotate_providers::errors::{malformed, shorten};
use rotate_providers::json::{count, object, text as text_field};
use rotate_providers::ratelimit::parse_duration;
use serde_json::Value;

/// Which Google service answered (their 429s mean different things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Google AI Studio (the Gemini API).
    Studio,
    /// Vertex AI.
    Vertex,
}

/// Finish reasons that mean the answer was withheld for safety or policy.
const FILTERED: [&str; 6] = [
    "SAFETY",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "RECITATION",
];

/// Parses a non-streamed `generateContent` body.
pub fn parse(body: &[u8]) -> Result<ProviderReply, ProviderError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let value: Value =
        serde_json::from_slice(&body[start..]).map_err(|e| malformed("Gemini response", e))?;
    let piece = read_piece(&value)?;
    if !value.get("candidates").is_some_and(Value::is_array) {
        return Err(malformed("Gemini response", "no `candidates`"));
    }
    let finish_reason = piece.finish_reason.map(|reason| {
        if reason == "STOP" && !piece.tool_calls.is_empty() {
            "tool_calls".to_owned()
        } else {
            reason
        }
    });
    Ok(ProviderReply {
        content: piece.text,
        tool_calls: piece.tool_calls,
        reasoning: piece.reasoning,
        model: value
            .get("modelVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        usage: piece.usage.unwrap_or_default(),
        finish_reason,
        raw: value,
        headroom: None,
        upstream_provider: None,
        refusal: None,
        passthrough: false,
    })
}

/// What one response (or one stream chunk) says.
#[derive(Debug, Default)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) reasoning: Vec<ContentPart>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) usage: Option<Usage>,
}

impl Piece {
    /// The stream event of this piece, its calls numbered from `first_call`.
    pub(crate) fn into_delta(self, first_call: u32) -> StreamDelta {
        let mut reasoning = None;
        let mut reasoning_signature = None;
        for part in &self.reasoning {
            if let Some(r) = part.as_reasoning() {
                if !r.text.is_empty() {
                    reasoning.get_or_insert_with(String::new).push_str(&r.text);
                }
                if let Some(signature) = &r.signature {
                    reasoning_signature = Some(signature.clone());
                }
            }
        }
        StreamDelta {
            delta: self.text,
            tool_calls: self
                .tool_calls
                .into_iter()
                .zip(first_call..)
                .map(|(call, index)| ToolCallDelta {
                    index,
                    id: Some(call.id),
                    name: Some(call.name),
                    arguments: call.arguments,
                })
                .collect(),
            reasoning,
            reasoning_signature,
            finish_reason: self.finish_reason,
            usage: self.usage,
            raw: None,
        }
    }
}

/// A call id for a function call Gemini sent without one: unique in this process and
/// of the form every vendor accepts.
fn made_up_call_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("call_{:x}_{n}", std::process::id())
}

/// One part of a candidate into `piece`: text, a thought, a function call (with the
/// signature it may carry, kept as a signature-only reasoning part before the call).
fn read_part(part: &Value, piece: &mut Piece) -> Result<(), ProviderError> {
    let signature = text_field(part, "thoughtSignature", "response")?.map(str::to_owned);
    if let Some(call) = part.get("functionCall") {
        let name = text_field(call, "name", "response")?
            .ok_or_else(|| malformed("response", "a `functionCall` has no `name`"))?;
        let args = match call.get("args") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(args @ Value::Object(_)) => args.to_string(),
            Some(_) => {
                return Err(malformed(
                    "response",
                    "a `functionCall`'s `args` is not an object",
                ))
            }
        };
        let id = text_field(call, "id", "response")?
            .filter(|id| rotate_core::tool::is_portable_call_id(id))
            .map_or_else(made_up_call_id, str::to_owned);
        if signature.is_some() {
            piece.reasoning.push(thought(String::new(), signature));
        }
        piece.tool_calls.push(ToolCall::new(id, name, args));
        return Ok(());
    }
    let text = text_field(part, "text", "response")?;
    if part.get("thought").and_then(Value::as_bool) == Some(true) {
        piece
            .reasoning
            .push(thought(text.unwrap_or("").to_owned(), signature));
    } else if let Some(t) = text {
        piece.text.push_str(t);
        if signature.is_some() {
            piece.reasoning.push(thought(String::new(), signature));
        }
    }
    Ok(())
}

fn thought(text: String, signature: Option<String>) -> ContentPart {
    ContentPart::reasoning(Reasoning {
        text,
        signature,
        redacted: None,
        provider: String::new(),
    })
}

/// The text, finish reason and usage of a response; blocked prompts, safety stops and
/// error bodies are errors.
pub(crate) fn read_piece(value: &Value) -> Result<Piece, ProviderError> {
    if let Some(error) = value.get("error") {
        let status = error
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // an error event inside a stream: no reset time, so a spent quota quarantines
        return Err(classify_value(status, value, Service::Studio, None));
    }
    if let Some(reason) = value
        .get("promptFeedback")
        .and_then(|f| f.get("blockReason"))
        .and_then(Value::as_str)
    {
        return Err(ProviderError::new(
            ErrorKind::ContentFilter,
            format!("the prompt was blocked ({reason})"),
        ));
    }
    let candidate = value
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut piece = Piece::default();
    if let Some(parts) = candidate
        .and_then(|c| c.get("content"))
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
    {
        for part in parts {
            read_part(part, &mut piece)?;
        }
    }
    let finish_reason = candidate
        .and_then(|c| c.get("finishReason"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(reason) = finish_reason.as_deref().filter(|r| FILTERED.contains(r)) {
        return Err(ProviderError::new(
            ErrorKind::ContentFilter,
            format!("the answer was withheld ({reason})"),
        ));
    }
    piece.finish_reason = finish_reason;
    piece.usage = usage(value.get("usageMetadata"))?;
    Ok(piece)
}

/// `usageMetadata` as [`Usage`]: thinking tokens are output tokens (absent: none; any
/// other shape or a count that is not a count is a `Decode` error).
pub(crate) fn usage(meta: Option<&Value>) -> Result<Option<Usage>, ProviderError> {
    let Some(meta) = object(meta, "usageMetadata", "usage")? else {
        return Ok(None);
    };
    let n = |name: &str| count(meta, &[name], "usage").map(Option::unwrap_or_default);
    let prompt = n("promptTokenCount")?;
    let thoughts = n("thoughtsTokenCount")?;
    let completion = n("candidatesTokenCount")? + thoughts;
    let total = match n("totalTokenCount")? {
        0 => prompt + completion,
        t => t,
    };
    Ok(Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: n("cachedContentTokenCount")?,
        reasoning_tokens: thoughts,
        ..Usage::default()
    }))
}

/// Classifies a failed answer from its status and body.
pub fn classify(status: StatusCode, body: &[u8], service: Service, now_ms: u64) -> ProviderError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("error").is_some() => {
            classify_value(status, &value, service, Some(now_ms))
        }
        _ => {
            let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            let kind = kind_of_status(status, "", &[], service);
            let message = if shown.trim().is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                shorten(shown.trim())
            };
            ProviderError::new(kind, message).with_status(status.as_u16())
        }
    }
}

fn classify_value(
    status: StatusCode,
    value: &Value,
    service: Service,
    now_ms: Option<u64>,
) -> ProviderError {
    let error = &value["error"];
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let rpc_status = error.get("status").and_then(Value::as_str).unwrap_or("");
    let details: &[Value] = error
        .get("details")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let kind = kind_of_status(status, rpc_status, details, service);
    let kind = refine(kind, message);
    let retry_after = match kind {
        ErrorKind::RateLimited | ErrorKind::Overloaded => retry_delay(details),
        // a per-day limit rests the key until Google's daily reset, not for retryDelay
        ErrorKind::QuotaExhausted if quota_ids(details).any(|id| id.contains("PerDay")) => now_ms
            .map(|now| Duration::from_millis(crate::daily::next_reset_ms(now).saturating_sub(now))),
        _ => None,
    };
    let text = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        shorten(message)
    };
    let shown = if rpc_status.is_empty() {
        text
    } else {
        format!("{rpc_status}: {text}")
    };
    ProviderError::new(kind, shown)
        .with_status(status.as_u16())
        .with_retry_after(retry_after)
}

fn detail_type(detail: &Value) -> &str {
    detail
        .get("@type")
        .and_then(Value::as_str)
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
}

fn error_reasons(details: &[Value]) -> impl Iterator<Item = &str> {
    details
        .iter()
        .filter(|d| detail_type(d) == "ErrorInfo")
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
}

fn quota_ids(details: &[Value]) -> impl Iterator<Item = &str> {
    details
        .iter()
        .filter(|d| detail_type(d) == "QuotaFailure")
        .filter_map(|d| d.get("violations").and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.get("quotaId").and_then(Value::as_str))
}

/// `RetryInfo.retryDelay` (`"38s"`, `"45.8s"`).
fn retry_delay(details: &[Value]) -> Option<Duration> {
    details
        .iter()
        .filter(|d| detail_type(d) == "RetryInfo")
        .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .find_map(parse_duration)
}

const AUTH_REASONS: [&str; 5] = [
    "API_KEY_INVALID",
    "API_KEY_SERVICE_BLOCKED",
    "CONSUMER_SUSPENDED",
    "ACCESS_TOKEN_EXPIRED",
    "ACCESS_TOKEN_TYPE_UNSUPPORTED",
];

fn kind_of_status(
    status: StatusCode,
    rpc_status: &str,
    details: &[Value],
    service: Service,
) -> ErrorKind {
    if error_reasons(details).any(|r| AUTH_REASONS.contains(&r)) {
        return ErrorKind::Auth;
    }
    match status.as_u16() {
        429 => {
            let mut ids = quota_ids(details).peekable();
            if ids.peek().is_none() && service == Service::Vertex {
                // Vertex pay-as-you-go: Google's shared capacity is full, not this key's quota.
                return ErrorKind::Overloaded;
            }
            if quota_ids(details).any(|id| id.contains("PerDay")) {
                ErrorKind::QuotaExhausted
            } else {
                ErrorKind::RateLimited
            }
        }
        // google.rpc ABORTED / ALREADY_EXISTS: the request, not the service
        409 => ErrorKind::InvalidRequest,
        // DEADLINE_EXCEEDED
        504 => ErrorKind::Timeout,
        400..=599 => ErrorKind::from_status(status.as_u16()),
        _ if rpc_status == "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        _ => ErrorKind::InvalidRequest,
    }
}

/// Caller's-fault errors that the message tells apart.
fn refine(kind: ErrorKind, message: &str) -> ErrorKind {
    if kind != ErrorKind::InvalidRequest {
        return kind;
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("api key not valid") || lower.contains("api key expired") {
        ErrorKind::Auth
    } else if lower.contains("exceeds the maximum number of tokens")
        || lower.contains("input token count")
        || lower.contains("context window")
    {
        ErrorKind::ContextLength
    } else {
        kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(status: u16, body: Value, service: Service) -> ProviderError {
        classify(
            StatusCode::from_u16(status).unwrap(),
            body.to_string().as_bytes(),
            service,
            NOW_MS,
        )
    }

    /// 4 December 2026, 19:00 UTC (11:00 Pacific).
    const NOW_MS: u64 = 1_796_410_800_000;

    fn rpc(code: u16, status: &str, message: &str, details: Value) -> Value {
        json!({"error": {"code": code, "message": message, "status": status, "details": details}})
    }

    #[test]
    fn every_error_row_is_classified() {
        let per_minute = rpc(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota",
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.8s"}
            ]),
        );
        let per_day = rpc(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota",
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}
            ]),
        );
        let bad_key = rpc(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
            ]),
        );
        let suspended = rpc(
            403,
            "PERMISSION_DENIED",
            "Permission denied: Consumer has been suspended.",
            json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED"}
            ]),
        );
        let shared = rpc(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource exhausted, please try again later.",
            json!([]),
        );
        let rows: Vec<(u16, Value, Service, ErrorKind, Option<u64>)> = vec![
            (429, per_minute.clone(), Service::Studio, ErrorKind::RateLimited, Some(45_800)),
            // a per-day limit waits for Google's daily reset (5 December, 08:00 UTC)
            (429, per_day, Service::Studio, ErrorKind::QuotaExhausted, Some(13 * 3_600_000)),
            (429, shared.clone(), Service::Vertex, ErrorKind::Overloaded, None),
            (429, shared, Service::Studio, ErrorKind::RateLimited, None),
            (429, per_minute, Service::Vertex, ErrorKind::RateLimited, Some(45_800)),
            (400, bad_key, Service::Studio, ErrorKind::Auth, None),
            (403, suspended, Service::Studio, ErrorKind::Auth, None),
            (401, rpc(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", json!([])), Service::Vertex, ErrorKind::Auth, None),
            (403, rpc(403, "PERMISSION_DENIED", "denied", json!([])), Service::Vertex, ErrorKind::Auth, None),
            (400, rpc(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified", json!([])), Service::Studio, ErrorKind::InvalidRequest, None),
            (400, rpc(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", json!([])), Service::Studio, ErrorKind::ContextLength, None),
            (404, rpc(404, "NOT_FOUND", "models/gemini-9 is not found", json!([])), Service::Studio, ErrorKind::InvalidRequest, None),
            (500, rpc(500, "INTERNAL", "An internal error has occurred.", json!([])), Service::Studio, ErrorKind::ServerError, None),
            (503, rpc(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", json!([])), Service::Studio, ErrorKind::Overloaded, None),
            (504, rpc(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", json!([])), Service::Studio, ErrorKind::Timeout, None),
        ];
        for (status, body, service, kind, wait) in rows {
            let e = err(status, body.clone(), service);
            assert_eq!(e.kind, kind, "{status} {body}");
            assert_eq!(e.status, Some(status));
            assert_eq!(e.retry_after.map(|d| d.as_millis() as u64), wait, "{body}");
        }
        let html = classify(
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
            Service::Studio,
            NOW_MS,
        );
        assert_eq!(html.kind, ErrorKind::ServerError);
        assert!(html.message.contains("bad gateway"));
    }

    #[test]
    fn replies_exclude_thoughts_and_count_thinking_tokens() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "pondering", "thought": true}, {"text": "Hello"}, {"text": " there"}
            ]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 6, "cachedContentTokenCount": 2, "totalTokenCount": 20},
            "modelVersion": "gemini-2.5-flash", "responseId": "abc"
        });
        let reply = parse(format!("\n {body}").as_bytes()).unwrap();
        assert_eq!(reply.content, "Hello there");
        assert_eq!(reply.finish_reason.as_deref(), Some("STOP"));
        assert_eq!(reply.model, "gemini-2.5-flash");
        assert_eq!(
            reply.usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 10,
                total_tokens: 20,
                cached_tokens: 2,
                reasoning_tokens: 6,
                ..Usage::default()
            }
        );
        assert_eq!(reply.raw["responseId"], "abc");
    }

    #[test]
    fn blocked_prompts_and_safety_stops_are_content_filter_errors() {
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}, "usageMetadata": {"promptTokenCount": 3}});
        assert_eq!(
            parse(blocked.to_string().as_bytes()).unwrap_err().kind,
            ErrorKind::ContentFilter
        );
        let stopped = json!({"candidates": [{"content": {"parts": []}, "finishReason": "SAFETY"}]});
        assert_eq!(
            parse(stopped.to_string().as_bytes()).unwrap_err().kind,
            ErrorKind::ContentFilter
        );
        for bad in [&b"{"[..], b"[]", b"{\"candidates\": 3}", b"", b"\xff\xfe"] {
            assert_eq!(parse(bad).unwrap_err().kind, ErrorKind::Decode, "{bad:?}");
        }
    }
}
