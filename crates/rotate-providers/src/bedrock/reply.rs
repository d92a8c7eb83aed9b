//! Reading Converse answers: `output.message.content` blocks (`text`, `toolUse` with its
//! `input` as the arguments' JSON text, `reasoningContent` with its signature or
//! redacted bytes), `stopReason` under the common names, `usage` with cache tokens;
//! and the classification of Bedrock's errors by their `x-amzn-errortype` (or the
//! exception name of an in-stream error) and message.

use http::{HeaderMap, StatusCode};
use rotate_core::content::ContentPart;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::ProviderReply;
use rotate_core::response::Usage;
use rotate_core::tool::{Reasoning, ToolCall};
use serde_json::Value;

use crate::errors::{malformed, shorten};
use crate::json::{count, object, text};

/// Converse's stop reason under the common names.
pub(crate) fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        other => other,
    }
    .to_owned()
}

/// Usage from a Converse `usage` object: prompt = input + cache reads + cache writes.
pub(crate) fn usage(v: Option<&Value>) -> Result<Usage, ProviderError> {
    let Some(v) = object(v, "usage", "usage")? else {
        return Ok(Usage::default());
    };
    let n = |name: &str| count(v, &[name], "usage").map(Option::unwrap_or_default);
    let cache_reads = n("cacheReadInputTokens")?;
    let cache_writes = n("cacheWriteInputTokens")?;
    let prompt = n("inputTokens")? + cache_reads + cache_writes;
    let completion = n("outputTokens")?;
    Ok(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: cache_reads,
        reasoning_tokens: 0,
        cache_write_tokens: cache_writes,
    })
}

/// One `reasoningContent` block as a reasoning part.
fn reasoning_of(block: &Value) -> Result<Option<ContentPart>, ProviderError> {
    if let Some(redacted) = text(block, "redactedContent", "response")? {
        return Ok(Some(ContentPart::reasoning(Reasoning {
            text: String::new(),
            signature: None,
            redacted: Some(redacted.to_owned()),
            provider: String::new(),
        })));
    }
    let Some(reasoning) = block.get("reasoningText") else {
        return Ok(None);
    };
    Ok(Some(ContentPart::reasoning(Reasoning {
        text: text(reasoning, "text", "response")?
            .unwrap_or("")
            .to_owned(),
        signature: text(reasoning, "signature", "response")?.map(str::to_owned),
        redacted: None,
        provider: String::new(),
    })))
}

/// Parses a non-streamed answer.
pub(crate) fn parse(body: &[u8]) -> Result<ProviderReply, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("JSON response", e))?;
    let blocks = raw
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("response", "no `output.message.content`"))?;
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for block in blocks {
        if let Some(piece) = text(block, "text", "response")? {
            content.push_str(piece);
        } else if let Some(call) = block.get("toolUse") {
            let field = |name: &str| -> Result<&str, ProviderError> {
                text(call, name, "response")?
                    .ok_or_else(|| malformed("response", format!("a `toolUse` has no `{name}`")))
            };
            let input = call
                .get("input")
                .filter(|i| i.is_object())
                .ok_or_else(|| malformed("response", "a `toolUse`'s `input` is not an object"))?;
            tool_calls.push(ToolCall::new(
                field("toolUseId")?,
                field("name")?,
                input.to_string(),
            ));
        } else if let Some(block) = block.get("reasoningContent") {
            reasoning.extend(reasoning_of(block)?);
        }
    }
    let stop_reason = text(&raw, "stopReason", "response")?;
    Ok(ProviderReply {
        content,
        model: String::new(),
        usage: usage(raw.get("usage"))?,
        finish_reason: stop_reason.map(finish_reason),
        upstream_provider: None,
        headroom: None,
        tool_calls,
        reasoning,
        refusal: None,
        raw,
        passthrough: false,
    })
}

/// The kind of a Bedrock error named `name` (an `x-amzn-errortype` or an in-stream
/// exception, in either case) saying `message`.
pub(crate) fn error_kind(name: &str, message: &str, status: Option<u16>) -> ErrorKind {
    let lower = message.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "throttlingexception" | "toomanyrequestsexception" => ErrorKind::RateLimited,
        "servicequotaexceededexception" => ErrorKind::QuotaExhausted,
        // the signature is outside AWS's five-minute window: this machine's clock,
        // not the key, is wrong, and every key would be refused alike
        "invalidsignatureexception"
            if lower.contains("signature expired") || lower.contains("not yet current") =>
        {
            ErrorKind::Configuration
        }
        "accessdeniedexception"
        | "unrecognizedclientexception"
        | "expiredtokenexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "missingauthenticationtokenexception"
        | "unauthorizedexception" => ErrorKind::Auth,
        "validationexception" if is_too_long(&lower) => ErrorKind::ContextLength,
        "validationexception" | "resourcenotfoundexception" | "conflictexception" => {
            ErrorKind::InvalidRequest
        }
        "modelnotreadyexception" | "serviceunavailableexception" => ErrorKind::Overloaded,
        "modeltimeoutexception" => ErrorKind::Timeout,
        "modelerrorexception" | "modelstreamerrorexception" | "internalserverexception" => {
            ErrorKind::ServerError
        }
        _ => status.map_or(ErrorKind::ServerError, ErrorKind::from_status),
    }
}

fn is_too_long(message: &str) -> bool {
    [
        "too long",
        "too many input tokens",
        "context length",
        "exceeds the maximum",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// The error's message, from `{"message": …}` (or `Message`).
pub(crate) fn message_of(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let said = parsed.as_ref().and_then(|v| {
        v.get("message")
            .or_else(|| v.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    shorten(&said.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned()))
}

/// Classifies a failed answer.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    // `ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`
    let name = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v))
        .unwrap_or("");
    let message = message_of(body);
    let kind = error_kind(name, &message, Some(status.as_u16()));
    let message = if kind == ErrorKind::Configuration {
        format!(
            "{message} (this machine's clock is off: SigV4 signatures are valid for five minutes)"
        )
    } else if name.is_empty() {
        message
    } else {
        format!("{name}: {message}")
    };
    ProviderError::new(kind, message).with_status(status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, name: &str, message: &str) -> ErrorKind {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_str(&format!(
                "{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            ))
            .unwrap(),
        );
        let body = serde_json::json!({ "message": message }).to_string();
        classify(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
        )
        .kind
    }

    #[test]
    fn errors_are_classified_by_their_type() {
        assert_eq!(
            kind(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again."
            ),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind(
                400,
                "ServiceQuotaExceededException",
                "Too many tokens per day"
            ),
            ErrorKind::QuotaExhausted
        );
        assert_eq!(
            kind(
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID."
            ),
            ErrorKind::Auth
        );
        assert_eq!(
            kind(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid."
            ),
            ErrorKind::Auth
        );
        assert_eq!(
            kind(
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired"
            ),
            ErrorKind::Auth
        );
        assert_eq!(kind(403, "InvalidSignatureException", "Signature expired: 20261207T100000Z is now earlier than 20261207T145500Z (20261207T150000Z - 5 min.)"), ErrorKind::Configuration);
        assert_eq!(
            kind(400, "ValidationException", "Malformed input request"),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(
                400,
                "ValidationException",
                "Input is too long for requested model."
            ),
            ErrorKind::ContextLength
        );
        assert_eq!(
            kind(429, "ModelNotReadyException", "Model is not ready"),
            ErrorKind::Overloaded
        );
        assert_eq!(
            kind(
                503,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request."
            ),
            ErrorKind::Overloaded
        );
        assert_eq!(
            kind(408, "ModelTimeoutException", "Model has timed out"),
            ErrorKind::Timeout
        );
        assert_eq!(
            kind(500, "InternalServerException", "internal"),
            ErrorKind::ServerError
        );
        assert_eq!(kind(502, "", "bad gateway"), ErrorKind::ServerError);
        let error = classify(StatusCode::FORBIDDEN, &HeaderMap::new(), b"not json");
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Auth, "not json")
        );
    }

    proptest::proptest! {
        /// A Converse answer with any value in any of its fields parses or is a
        /// `Decode` error; it never panics.
        #[test]
        fn wrong_typed_answers_are_decode_errors(
            at in 0usize..8,
            value in rotate_testkit::arbitrary::any_json(),
        ) {
            let mut body = serde_json::json!({
                "output": {"message": {"role": "assistant", "content": [
                    {"text": "hi"},
                    {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}},
                    {"reasoningContent": {"reasoningText": {"text": "r", "signature": "s"}}}
                ]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
            });
            let pointers = [
                "/output/message/content",
                "/output/message/content/0/text",
                "/output/message/content/1/toolUse/input",
                "/output/message/content/1/toolUse/toolUseId",
                "/output/message/content/2/reasoningContent/reasoningText",
                "/stopReason",
                "/usage",
                "/usage/inputTokens",
            ];
            if let Some(slot) = body.pointer_mut(pointers[at]) {
                *slot = value;
            }
            match parse(body.to_string().as_bytes()) {
                Ok(reply) => proptest::prop_assert!(reply.usage.total_tokens >= reply.usage.prompt_tokens),
                Err(error) => proptest::prop_assert_eq!(error.kind, ErrorKind::Decode),
            }
        }

        /// Any event with any payload, in any order, is handled or refused with a typed
        /// error; it never panics.
        #[test]
        fn any_stream_event_is_handled_or_refused(
            events in proptest::collection::vec((0usize..9, rotate_testkit::arbitrary::any_json()), 0..12),
        ) {
            use crate::events::StreamProtocol as _;
            let names = [
                "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop",
                "messageStop", "metadata", "throttlingException", crate::eventstream::ERROR_EVENT, "future",
            ];
            let mut stream = super::super::BedrockStream::default();
            let mut out = std::collections::VecDeque::new();
            for (name, payload) in events {
                let data = payload.to_string();
                let event = crate::sse::SseEvent { event: names[name], data: &data };
                if stream.on_event(event, &mut out).is_err() {
                    break;
                }
            }
        }
    }
}
