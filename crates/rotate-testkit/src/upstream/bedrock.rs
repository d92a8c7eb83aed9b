//! The fake AWS Bedrock runtime, Converse API, as documented: `POST
//! /model/{modelId}/converse` and `/converse-stream`; answers with `output.message`,
//! `stopReason`, `usage` and `metrics`; streams in AWS event-stream framing (its own
//! encoder here, with real CRC32s, payloads padded with `p` as Bedrock pads them);
//! errors as `{"message"}` bodies named by `x-amzn-errortype`, and in-stream exception
//! messages.
//!
//! Authentication is checked as AWS does: a Bedrock API key as `Authorization: Bearer`
//! (a short-term key, `bedrock-api-key-…`, carries its issue time and lifetime and is
//! refused once expired), or a SigV4 signature, recomputed here from the request as
//! received (canonical request, string to sign, HMAC-SHA256 key chain) for the access
//! key ids [`aws_secret_of`] knows, and refused when the signature differs or its time
//! is more than five minutes from the upstream's clock.

use base64::Engine as _;
use http::{Response, StatusCode};
use ring::{digest, hmac};
use rotate_core::clock::rfc3339;
use serde_json::{json, Value};

use super::render::{completion_tokens, pieces, Ending, Exchange, ReplyBody};
use super::Behavior;

/// The secret access key the fake knows for access key id `access_key_id`.
pub fn aws_secret_of(access_key_id: &str) -> String {
    format!("testkit-secret/{access_key_id}")
}

/// A key value for AWS credentials `access_key_id` (its secret from [`aws_secret_of`]).
pub fn aws_key_json(access_key_id: &str, session_token: Option<&str>) -> String {
    let mut key = json!({
        "access_key_id": access_key_id,
        "secret_access_key": aws_secret_of(access_key_id),
    });
    if let Some(token) = session_token {
        key["session_token"] = json!(token);
    }
    key.to_string()
}

/// `unix_ms` as SigV4's basic ISO 8601 time (`20261207T150000Z`).
fn amz_date(unix_ms: u64) -> String {
    let full = rfc3339(unix_ms);
    let basic: String = full[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{basic}Z")
}

/// A short-term Bedrock API key issued at `issued_unix_ms`, valid for `lifetime_secs`
/// (the shape AWS's token generator gives: a prefix and a base64 presigned URL).
pub fn short_term_bedrock_key(issued_unix_ms: u64, lifetime_secs: u64) -> String {
    let url = format!(
        "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIATESTKIT%2F{}%2Fus-east-1%2Fbedrock%2Faws4_request&X-Amz-Date={}&X-Amz-Expires={lifetime_secs}&X-Amz-SignedHeaders=host&X-Amz-Signature=00&Version=1",
        &amz_date(issued_unix_ms)[..8],
        amz_date(issued_unix_ms)
    );
    format!(
        "bedrock-api-key-{}",
        base64::engine::general_purpose::STANDARD.encode(url)
    )
}

/// Why a short-term key has expired at `now_ms`, if it has.
fn expired(key: &str, now_ms: u64) -> bool {
    let Some(encoded) = key.strip_prefix("bedrock-api-key-") else {
        return false;
    };
    let Ok(url) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return true;
    };
    let url = String::from_utf8_lossy(&url).into_owned();
    let field = |name: &str| {
        url.split(['?', '&'])
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let (Some(date), Some(lifetime)) = (field("X-Amz-Date"), field("X-Amz-Expires")) else {
        return true;
    };
    let lifetime_ms = lifetime.parse::<u64>().unwrap_or(0) * 1000;
    // dates of one fixed width compare as text
    amz_date(now_ms.saturating_sub(lifetime_ms)) > date
}

/// A Bedrock error response.
pub(crate) fn error_response(status: u16, name: &str, message: &str) -> Response<ReplyBody> {
    let errortype = format!("{name}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    super::render::json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &json!({ "message": message }),
        &[
            ("x-amzn-errortype", errortype),
            ("x-amzn-requestid", "3f1e2d4c-testkit".to_owned()),
        ],
    )
}

fn refusal(status: u16, name: &str, message: &str) -> Box<Response<ReplyBody>> {
    Box::new(error_response(status, name, message))
}

/// The key a request authenticates as, or the refusal AWS would answer.
pub(crate) fn authenticate(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    now_ms: u64,
) -> Result<String, Box<Response<ReplyBody>>> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(authorization) = header("authorization") else {
        return Err(refusal(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(bearer) = authorization.strip_prefix("Bearer ") {
        if expired(bearer, now_ms) {
            return Err(refusal(
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ));
        }
        return Ok(bearer.to_owned());
    }
    let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(refusal(
            400,
            "IncompleteSignatureException",
            "Authorization header requires a supported algorithm",
        ));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
    };
    let incomplete = || {
        error_response(
            400,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'",
        )
    };
    let (Some(credential), Some(signed), Some(signature)) = (
        field("Credential"),
        field("SignedHeaders"),
        field("Signature"),
    ) else {
        return Err(Box::new(incomplete()));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, day, region, service, "aws4_request"] = scope[..] else {
        return Err(Box::new(incomplete()));
    };
    if !access_key_id.starts_with("AKIA") && !access_key_id.starts_with("ASIA") {
        return Err(refusal(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let date = header("x-amz-date").unwrap_or("");
    let (earliest, latest) = (
        amz_date(now_ms.saturating_sub(300_000)),
        amz_date(now_ms + 300_000),
    );
    let now = amz_date(now_ms);
    if date < earliest.as_str() {
        return Err(refusal(
            403,
            "InvalidSignatureException",
            &format!("Signature expired: {date} is now earlier than {earliest} ({now} - 5 min.)"),
        ));
    }
    if date > latest.as_str() {
        return Err(refusal(
            403,
            "InvalidSignatureException",
            &format!(
                "Signature not yet current: {date} is still later than {latest} ({now} + 5 min.)"
            ),
        ));
    }
    if !signed.split(';').any(|h| h == "host")
        || (header("x-amz-security-token").is_some()
            && !signed.split(';').any(|h| h == "x-amz-security-token"))
    {
        return Err(refusal(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."));
    }
    let canonical_uri: String = path
        .split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = header(name).unwrap_or("").trim();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let payload = hex(digest::digest(&digest::SHA256, body).as_ref());
    let canonical =
        format!("{method}\n{canonical_uri}\n\n{canonical_headers}\n{signed}\n{payload}");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{day}/{region}/{service}/aws4_request\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mac = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
            .as_ref()
            .to_vec()
    };
    let secret = format!("AWS4{}", aws_secret_of(access_key_id));
    let key = mac(secret.as_bytes(), day);
    let key = mac(&key, region);
    let key = mac(&key, service);
    let key = mac(&key, "aws4_request");
    if service != "bedrock" || hex(&mac(&key, &to_sign)) != signature {
        return Err(refusal(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."));
    }
    Ok(access_key_id.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's URI encoding: every byte but the unreserved ones as `%XX`.
fn uri_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One event-stream message with string headers, its CRCs computed.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = 12 + head.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An `event` message, its payload padded with `p` as Bedrock's are.
fn event(name: &str, mut payload: Value) -> Vec<u8> {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"[..(name.len() % 20) + 4]);
    frame(
        &[
            (":event-type", name),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An `exception` message.
fn exception(name: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", name),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

/// The error of a scripted failure.
fn error(behavior: Behavior) -> Response<ReplyBody> {
    let (status, name, message) = match behavior {
        Behavior::RateLimited(_) => (429, "ThrottlingException", "Too many requests, please wait before trying again."),
        Behavior::QuotaExhausted => (400, "ServiceQuotaExceededException", "You have exceeded the number of tokens per day allowed for this model."),
        Behavior::Unauthorized => (403, "UnrecognizedClientException", "The security token included in the request is invalid."),
        Behavior::BadRequest => (400, "ValidationException", "Malformed input request: #: required key [messages] not found, please reformat your input and try again."),
        Behavior::ContextLength => (400, "ValidationException", "Input is too long for requested model."),
        Behavior::Overloaded | Behavior::ServerError(503 | 529) => (503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
        Behavior::ServerError(504) => (408, "ModelTimeoutException", "Model has timed out in processing the request."),
        Behavior::ServerError(status) => (status, "InternalServerException", "The server encountered an error processing the request."),
        Behavior::ErrorSaying(status, message) => return error_response(status, "InternalServerException", &message),
        _ => (500, "InternalServerException", "unexpected scripted behaviour"),
    };
    error_response(status, name, message)
}

/// The answer to a Converse request (every model answers alike).
pub(crate) fn respond(x: &Exchange<'_>, behavior: Behavior) -> Response<ReplyBody> {
    let thinking = x
        .body
        .pointer("/additionalModelRequestFields/thinking")
        .is_some();
    let text = x.reply_text(&behavior);
    let prompt = x.prompt_tokens();
    let completion = completion_tokens(&text) + if thinking { 7 } else { 0 };
    let usage = |completion: u64| json!({"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0});
    let streamed_count = behavior.streamed_count();
    let calls = match &behavior {
        Behavior::ToolCalls(calls) | Behavior::ToolCallsCut(calls) => Some(calls.clone()),
        _ => None,
    };
    match &behavior {
        Behavior::Ok | Behavior::Reply(_) | Behavior::ToolCalls(_) | Behavior::ToolCallsCut(_) => {}
        Behavior::MalformedJson if !x.stream => {
            return super::render::raw(
                StatusCode::OK,
                "application/json",
                "{\"output\":{\"message\":".to_owned(),
                &[],
            );
        }
        Behavior::MalformedJson => {
            let broken = frame(
                &[
                    (":event-type", "messageStart"),
                    (":content-type", "application/json"),
                    (":message-type", "event"),
                ],
                b"{\"role\":",
            );
            return event_stream(vec![broken], Ending::Clean);
        }
        _ if streamed_count.is_some() => {}
        other => return error(other.clone()),
    }
    let input = |c: &rotate_core::tool::ToolCall| {
        serde_json::from_str::<Value>(&c.arguments).unwrap_or_else(|_| json!({}))
    };
    if !x.stream {
        let mut content = Vec::new();
        if thinking {
            content.push(json!({"reasoningContent": {"reasoningText": {"text": "Let me think about this.", "signature": "sig_bedrock_testkit"}}}));
        }
        let stop = match &calls {
            Some(calls) => {
                for call in calls {
                    content.push(json!({"toolUse": {"toolUseId": call.id, "name": call.name, "input": input(call)}}));
                }
                "tool_use"
            }
            None => {
                content.push(json!({ "text": text }));
                "end_turn"
            }
        };
        let body = json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": usage(if calls.is_some() { 12 } else { completion }),
            "metrics": {"latencyMs": 21}
        });
        return super::render::json(
            StatusCode::OK,
            &body,
            &[("x-amzn-requestid", "3f1e2d4c-testkit".to_owned())],
        );
    }
    let mut frames = vec![event("messageStart", json!({"role": "assistant"}))];
    let mut index = 0u64;
    if thinking {
        frames.push(event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Let me think about this."}}})));
        frames.push(event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig_bedrock_testkit"}}})));
        frames.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
        index = 1;
    }
    if let Some(calls) = &calls {
        let cut = matches!(behavior, Behavior::ToolCallsCut(_));
        for (at, call) in (index..).zip(calls) {
            frames.push(event("contentBlockStart", json!({"contentBlockIndex": at, "start": {"toolUse": {"toolUseId": call.id, "name": call.name}}})));
            let arguments: Vec<char> = input(call).to_string().chars().collect();
            let third = arguments.len().div_ceil(3).max(1);
            for piece in arguments.chunks(third) {
                let piece: String = piece.iter().collect();
                frames.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": at, "delta": {"toolUse": {"input": piece}}}),
                ));
                if cut {
                    return event_stream(frames, Ending::Cut);
                }
            }
            frames.push(event("contentBlockStop", json!({"contentBlockIndex": at})));
        }
        frames.push(event("messageStop", json!({"stopReason": "tool_use"})));
        frames.push(event(
            "metadata",
            json!({"usage": usage(12), "metrics": {"latencyMs": 21}}),
        ));
        return event_stream(frames, Ending::Clean);
    }
    let all = pieces(&text);
    let take = streamed_count.unwrap_or(all.len()).min(all.len());
    for piece in &all[..take] {
        frames.push(event(
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": {"text": piece}}),
        ));
    }
    match behavior {
        Behavior::CutAfter(_) => return event_stream(frames, Ending::Cut),
        Behavior::StallAfter(_) => return event_stream(frames, Ending::Stall),
        Behavior::EndWithoutTerminal(_) => {
            // the body ends inside the next message
            let next = event("contentBlockStop", json!({"contentBlockIndex": index}));
            frames.push(next[..next.len() / 2].to_vec());
            return event_stream(frames, Ending::Clean);
        }
        Behavior::MidStreamError(_) => {
            frames.push(exception(
                "throttlingException",
                "Too many tokens, please wait before trying again.",
            ));
            return event_stream(frames, Ending::Clean);
        }
        _ => {}
    }
    frames.push(event(
        "contentBlockStop",
        json!({"contentBlockIndex": index}),
    ));
    frames.push(event("messageStop", json!({"stopReason": "end_turn"})));
    frames.push(event(
        "metadata",
        json!({"usage": usage(completion), "metrics": {"latencyMs": 21}}),
    ));
    event_stream(frames, Ending::Clean)
}

/// An event-stream response: one frame per message.
fn event_stream(frames: Vec<Vec<u8>>, ending: Ending) -> Response<ReplyBody> {
    super::render::binary_stream(
        frames,
        ending,
        "application/vnd.amazon.eventstream",
        &[("x-amzn-requestid", "3f1e2d4c-testkit".to_owned())],
    )
}
