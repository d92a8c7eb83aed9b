//! The fake Gemini protocol (AI Studio and Vertex), as documented: `candidates` with
//! `parts` (a thought part first when thinking was asked), `usageMetadata` with
//! thinking tokens, `alt=sse` streams framed with `\r\n` whose last chunk carries the
//! `finishReason` and the complete usage, `promptFeedback.blockReason` for blocked
//! prompts, and google.rpc error bodies with `QuotaFailure`, `RetryInfo` and
//! `ErrorInfo` details (no `Retry-After` header, as Gemini sends none).

use super::GEMINI_SIGNATURE;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::render::{completion_tokens, json, pieces, raw, sse, Ending, Exchange, ReplyBody};
use super::Behavior;

/// Which Google service is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Studio,
    Vertex,
}

/// The largest request body accepted (inline data over it must use the Files API).
pub(crate) const MAX_REQUEST_BYTES: usize = 20 * 1024 * 1024;

pub(crate) fn rpc_error(
    code: u16,
    status: &str,
    message: &str,
    details: Value,
) -> Response<ReplyBody> {
    let body =
        json!({"error": {"code": code, "message": message, "status": status, "details": details}});
    json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
        &[],
    )
}

fn quota(quota_id: &str, wait: Option<std::time::Duration>) -> Value {
    let mut details = vec![
        json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
            "quotaValue": "10"
        }]}),
        json!({"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}),
    ];
    if let Some(wait) = wait {
        details.push(json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{}s", wait.as_secs_f64())}));
    }
    Value::Array(details)
}

/// An error response of the kind `behavior` names.
pub(crate) fn error(behavior: Behavior, service: Service) -> Response<ReplyBody> {
    const QUOTA_MESSAGE: &str =
        "You exceeded your current quota, please check your plan and billing details.";
    match (behavior, service) {
        (Behavior::RateLimited(wait), _) => rpc_error(429, "RESOURCE_EXHAUSTED", QUOTA_MESSAGE, quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", wait)),
        (Behavior::QuotaExhausted, _) => rpc_error(429, "RESOURCE_EXHAUSTED", QUOTA_MESSAGE, quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", Some(std::time::Duration::from_secs(3600)))),
        (Behavior::Unauthorized, Service::Studio) => rpc_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", json!([
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}
        ])),
        (Behavior::Unauthorized, Service::Vertex) => unauthenticated(),
        (Behavior::BadRequest, _) => rpc_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.", json!([])),
        (Behavior::ContextLength, _) => rpc_error(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", json!([])),
        (Behavior::Overloaded, Service::Studio) | (Behavior::ServerError(503), _) => rpc_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", json!([])),
        (Behavior::Overloaded, Service::Vertex) => rpc_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted, please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", json!([])),
        (Behavior::ServerError(504), _) => rpc_error(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", json!([])),
        (Behavior::ServerError(status), _) => rpc_error(status, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", json!([])),
        (Behavior::ErrorSaying(status, message), _) => rpc_error(status, "INTERNAL", &message, json!([])),
        _ => rpc_error(500, "INTERNAL", "unexpected scripted behaviour", json!([])),
    }
}

/// Vertex's answer to a missing, unknown or expired bearer token.
pub(crate) fn unauthenticated() -> Response<ReplyBody> {
    rpc_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", json!([
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "domain": "googleapis.com"}
    ]))
}

/// Prompt tokens: one per four characters of text, 258 per inline or file part.
fn prompt_tokens(body: &Value) -> u64 {
    let mut chars = 0usize;
    let mut media = 0u64;
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let system = body.get("systemInstruction").into_iter();
    for turn in contents.chain(system) {
        for part in turn
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                chars += text.chars().count();
            } else {
                media += 1;
            }
        }
    }
    (chars as u64).div_ceil(4) + 258 * media
}

fn chunk(value: &Value) -> String {
    format!("data: {value}\r\n\r\n")
}

/// The answer to a `generateContent` / `streamGenerateContent` request.
pub(crate) fn respond(
    x: &Exchange<'_>,
    model: &str,
    behavior: Behavior,
    service: Service,
) -> Response<ReplyBody> {
    let streamed_count = behavior.streamed_count();
    if let Behavior::ToolCalls(calls) = &behavior {
        return function_calls(x, model, calls);
    }
    match behavior {
        Behavior::Ok
        | Behavior::Reply(_)
        | Behavior::HeadroomExhausted(_)
        | Behavior::Headroom(..) => {}
        Behavior::Blocked => {
            let body = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ]}, "usageMetadata": {"promptTokenCount": prompt_tokens(x.body), "totalTokenCount": prompt_tokens(x.body)}, "modelVersion": model});
            return if x.stream {
                sse(vec![chunk(&body)], Ending::Clean, &[])
            } else {
                json(StatusCode::OK, &body, &[])
            };
        }
        Behavior::MalformedJson if !x.stream => {
            return raw(
                StatusCode::OK,
                "application/json; charset=UTF-8",
                "{\"candidates\": [{\"content\": {".to_owned(),
                &[],
            );
        }
        Behavior::MalformedJson => {
            return sse(
                vec!["data: {\"candidates\": [{\"content\r\n\r\n".to_owned()],
                Ending::Clean,
                &[],
            );
        }
        _ if streamed_count.is_some() => {}
        other => return error(other, service),
    }
    let thinking = x.body.pointer("/generationConfig/thinkingConfig").is_some();
    let text = x.reply_text(&behavior);
    let prompt = prompt_tokens(x.body);
    let candidates = completion_tokens(&text);
    let thoughts = if thinking { 7 } else { 0 };
    let usage = json!({
        "promptTokenCount": prompt, "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts, "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]
    });
    let response_id = format!("testkit-{}", x.serial);
    if !x.stream {
        let mut parts = Vec::new();
        if thinking {
            parts.push(json!({"text": "Let me think about this.", "thought": true}));
        }
        parts.push(json!({"text": text}));
        let body = json!({
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "avgLogprobs": -0.1, "index": 0}],
            "usageMetadata": usage, "modelVersion": model, "responseId": response_id
        });
        return json(StatusCode::OK, &body, &[]);
    }
    let partial_usage = json!({"promptTokenCount": prompt, "totalTokenCount": prompt});
    let mut events = Vec::new();
    if thinking {
        events.push(chunk(&json!({
            "candidates": [{"content": {"parts": [{"text": "Let me think about this.", "thought": true}], "role": "model"}, "index": 0}],
            "usageMetadata": partial_usage, "modelVersion": model, "responseId": response_id
        })));
    }
    let all = pieces(&text);
    let take = streamed_count.unwrap_or(all.len()).min(all.len());
    for (i, piece) in all[..take].iter().enumerate() {
        let last = streamed_count.is_none() && i + 1 == all.len();
        let mut candidate =
            json!({"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0});
        if last {
            candidate["finishReason"] = json!("STOP");
        }
        events.push(chunk(&json!({
            "candidates": [candidate],
            "usageMetadata": if last { usage.clone() } else { partial_usage.clone() },
            "modelVersion": model, "responseId": response_id
        })));
    }
    let ending = match behavior {
        Behavior::CutAfter(_) => Ending::Cut,
        Behavior::StallAfter(_) => Ending::Stall,
        Behavior::MidStreamError(_) => {
            events.push(chunk(&json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})));
            Ending::Clean
        }
        _ => Ending::Clean,
    };
    sse(events, ending, &[])
}

/// An answer that calls `calls` as Gemini does: `functionCall` parts without ids, the
/// first carrying a `thoughtSignature`, and `finishReason: STOP`; streamed as one chunk of
/// calls and a closing chunk.
fn function_calls(
    x: &Exchange<'_>,
    model: &str,
    calls: &[rotate_core::tool::ToolCall],
) -> Response<ReplyBody> {
    let parts: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let args = serde_json::from_str::<Value>(&call.arguments).unwrap_or_else(|_| json!({}));
            let mut part = json!({"functionCall": {"name": call.name, "args": args}});
            if i == 0 {
                part["thoughtSignature"] = json!(GEMINI_SIGNATURE);
            }
            part
        })
        .collect();
    let prompt = prompt_tokens(x.body);
    let usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": 9, "totalTokenCount": prompt + 9});
    if !x.stream {
        let body = json!({
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model
        });
        return json(StatusCode::OK, &body, &[]);
    }
    let events = vec![
        chunk(
            &json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}], "modelVersion": model}),
        ),
        chunk(
            &json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage, "modelVersion": model}),
        ),
    ];
    sse(events, Ending::Clean, &[])
}
