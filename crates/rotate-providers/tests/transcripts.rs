//! Documented sample responses, SSE transcripts (split at every byte offset) and the
//! classification table, through the public `WireProtocol` surface; random input never panics.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::VecDeque;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;
use rotate_core::config::ProviderConfig;
use rotate_core::provider::StreamDelta;
use rotate_core::{ErrorKind, ProviderError, Usage};
use rotate_providers::events::StreamProtocol;
use rotate_providers::sse::SseDecoder;
use rotate_providers::{AnthropicWire, OpenAiWire, WireProtocol};

fn openai() -> OpenAiWire {
    OpenAiWire::new(
        "openai",
        &rotate_core::config::ProviderConfig::from(
            rotate_core::catalogue::builtin("openai").unwrap(),
        ),
    )
    .unwrap()
}

fn anthropic() -> AnthropicWire {
    AnthropicWire::new("anthropic", &ProviderConfig::default()).unwrap()
}

const OPENAI_REPLY: &str = r#"

{ "id":"chatcmpl-1", "object":"chat.completion", "created":1, "model":"gpt-4o-2024-08-06",
  "choices":[{"index":0,"finish_reason":"stop",
              "message":{"role":"assistant","content":"Hello!","refusal":null,"annotations":[]}, "logprobs":null}],
  "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
           "prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},
           "completion_tokens_details":{"reasoning_tokens":4,"audio_tokens":0}},
  "service_tier":"default", "system_fingerprint":"fp_1", "provider": "Fireworks" }"#;

#[test]
fn openai_reply_with_leading_blank_lines_and_details() {
    let reply = openai().parse_reply(OPENAI_REPLY.as_bytes()).unwrap();
    assert_eq!(reply.content, "Hello!");
    assert_eq!(reply.model, "gpt-4o-2024-08-06");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 19,
            completion_tokens: 10,
            total_tokens: 29,
            cached_tokens: 3,
            reasoning_tokens: 4,
            ..Usage::default()
        }
    );
    assert_eq!(reply.upstream_provider.as_deref(), Some("Fireworks"));
    assert_eq!(reply.raw["system_fingerprint"], "fp_1");
}

#[test]
fn openai_tool_calls_and_refusals() {
    let tools = r#"{"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}}],"model":"m"}"#;
    let reply = openai().parse_reply(tools.as_bytes()).unwrap();
    assert_eq!(reply.content, "");
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        reply.tool_calls,
        [rotate_core::tool::ToolCall::new("c", "f", "{}")]
    );
    let refusal = r#"{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}]}"#;
    let refused = openai().parse_reply(refusal.as_bytes()).unwrap();
    assert_eq!(refused.finish_reason.as_deref(), Some("refusal"));
    assert_eq!(refused.refusal.as_deref(), Some("I can't help with that."));
    for broken in [
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":{}}}]}"#,
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}}]}"#,
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"a":1}}}]}}]}"#,
        r#"{"choices":[{"message":{"role":"assistant","content":"x","refusal":7}}]}"#,
    ] {
        let error = openai().parse_reply(broken.as_bytes()).unwrap_err();
        assert_eq!(error.kind, rotate_core::ErrorKind::Decode, "{broken}");
    }
}

#[test]
fn anthropic_reply_reads_text_tool_use_and_thinking() {
    let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_reason":"max_tokens","stop_sequence":null,
      "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hi "},{"type":"tool_use","id":"t","name":"f","input":{}},{"type":"text","text":"there"}],
      "usage":{"input_tokens":10,"output_tokens":20,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens_details":{"thinking_tokens":12}}}"#;
    let reply = anthropic().parse_reply(body.as_bytes()).unwrap();
    assert_eq!(reply.content, "Hi there");
    assert_eq!(reply.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        reply.tool_calls,
        [rotate_core::tool::ToolCall::new("t", "f", "{}")]
    );
    let thought = reply.reasoning[0].as_reasoning().unwrap();
    assert_eq!(
        (thought.text.as_str(), thought.signature.as_deref()),
        ("hmm", Some("s"))
    );
    for broken in [
        r#"{"type":"message","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}"#,
        r#"{"type":"message","content":[{"type":"tool_use","name":"f","input":{}}]}"#,
        r#"{"type":"message","content":[{"type":"thinking","thinking":5}]}"#,
    ] {
        let error = anthropic().parse_reply(broken.as_bytes()).unwrap_err();
        assert_eq!(error.kind, rotate_core::ErrorKind::Decode, "{broken}");
    }
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 22,
            completion_tokens: 20,
            total_tokens: 42,
            cached_tokens: 7,
            reasoning_tokens: 12,
            cache_write_tokens: 5,
        }
    );
}

fn run_stream<P: StreamProtocol>(
    mut protocol: P,
    transcript: &[u8],
    cuts: &[usize],
) -> (Vec<Result<StreamDelta, ProviderError>>, bool) {
    let mut decoder = SseDecoder::new();
    let mut out = VecDeque::new();
    let mut items = Vec::new();
    let mut failed = false;
    let mut start = 0;
    let mut pieces: Vec<&[u8]> = Vec::new();
    for &cut in cuts {
        pieces.push(&transcript[start..cut]);
        start = cut;
    }
    pieces.push(&transcript[start..]);
    for piece in pieces {
        if failed {
            break;
        }
        let result = decoder.feed(piece, &mut |e| protocol.on_event(e, &mut out));
        items.extend(out.drain(..).map(Ok));
        if let Err(e) = result {
            items.push(Err(e));
            failed = true;
        }
    }
    if !failed {
        if let Err(e) = decoder.finish(&mut |e| protocol.on_event(e, &mut out)) {
            items.push(Err(e));
        }
        items.extend(out.drain(..).map(Ok));
    }
    (items, protocol.finished())
}

const OPENAI_STREAM: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"x\"}\r\n\r\n: keep-alive\r\n\r\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hé \"},\"finish_reason\":null}],\"usage\":null}\r\n\r\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"世界\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\r\n\r\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\r\n\r\ndata: [DONE]\r\n\r\n";

const ANTHROPIC_STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":4,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"so…\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig\"}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hé \"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"世界\"}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

fn check_transcript<P: StreamProtocol>(make: impl Fn() -> P, transcript: &str, usage: Usage) {
    let bytes = transcript.as_bytes();
    for cut in 0..=bytes.len() {
        let (items, finished) = run_stream(make(), bytes, &[cut]);
        assert!(finished, "split at {cut}");
        let text: String = items
            .iter()
            .map(|i| i.as_ref().unwrap().delta.clone())
            .collect();
        assert_eq!(text, "Hé 世界", "split at {cut}");
        let last = items.last().unwrap().as_ref().unwrap();
        assert_eq!(last.finish_reason.as_deref(), Some("stop"));
        assert_eq!(last.usage, Some(usage));
    }
    // without its terminal event the stream is not finished
    let cut_at = transcript.rfind("data:").unwrap();
    let (_, finished) = run_stream(make(), &bytes[..cut_at], &[]);
    assert!(!finished);
}

#[test]
fn openai_transcript_at_every_split() {
    check_transcript(
        || openai().stream_protocol(),
        OPENAI_STREAM,
        Usage::new(5, 2),
    );
}

#[test]
fn anthropic_stream_carries_tool_calls_and_reasoning_and_refuses_stray_pieces() {
    let (items, _) = run_stream(
        anthropic().stream_protocol(),
        ANTHROPIC_STREAM.as_bytes(),
        &[],
    );
    let deltas: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    let reasoning: String = deltas.iter().filter_map(|d| d.reasoning.clone()).collect();
    assert_eq!(reasoning, "so…");
    assert!(deltas
        .iter()
        .any(|d| d.reasoning_signature.as_deref() == Some("sig")));
    let pieces: Vec<_> = deltas.iter().flat_map(|d| d.tool_calls.clone()).collect();
    assert_eq!(pieces[0].id.as_deref(), Some("toolu_1"));
    assert_eq!(pieces[1].arguments, "{\"a\"");
    let stray = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":5,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n";
    let (items, _) = run_stream(anthropic().stream_protocol(), stray.as_bytes(), &[]);
    let error = items.into_iter().find_map(Result::err).unwrap();
    assert_eq!(error.kind, rotate_core::ErrorKind::Decode);
}

#[test]
fn anthropic_transcript_at_every_split() {
    check_transcript(
        || anthropic().stream_protocol(),
        ANTHROPIC_STREAM,
        Usage {
            prompt_tokens: 16,
            completion_tokens: 3,
            total_tokens: 19,
            cached_tokens: 4,
            reasoning_tokens: 0,
            ..Usage::default()
        },
    );
}

#[test]
fn groq_usage_and_stream_errors() {
    let groq = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"x_groq\":{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}}\n\ndata: [DONE]\n\n";
    let (items, _) = run_stream(openai().stream_protocol(), groq.as_bytes(), &[]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap().usage,
        Some(Usage::new(3, 1))
    );
    let errored = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n\n";
    let (items, _) = run_stream(openai().stream_protocol(), errored.as_bytes(), &[]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind,
        ErrorKind::RateLimited
    );
    let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (items, _) = run_stream(anthropic().stream_protocol(), overloaded.as_bytes(), &[]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind,
        ErrorKind::Overloaded
    );
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn openai_family_classification_table() {
    let none = HeaderMap::new();
    let rows: &[(u16, &str, &HeaderMap, ErrorKind, Option<Duration>)] = &[
        (
            429,
            r#"{"error":{"message":"Rate limit reached. Please try again in 174ms.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            &none,
            ErrorKind::RateLimited,
            Some(Duration::from_millis(174)),
        ),
        (
            429,
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            &none,
            ErrorKind::QuotaExhausted,
            None,
        ),
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            &none,
            ErrorKind::Auth,
            None,
        ),
        (
            403,
            r#"{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}"#,
            &none,
            ErrorKind::Auth,
            None,
        ),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
            &none,
            ErrorKind::ContextLength,
            None,
        ),
        (
            400,
            r#"{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}"#,
            &none,
            ErrorKind::ContentFilter,
            None,
        ),
        (
            400,
            r#"{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}"#,
            &none,
            ErrorKind::InvalidRequest,
            None,
        ),
        (
            404,
            r#"{"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
            &none,
            ErrorKind::InvalidRequest,
            None,
        ),
        (
            413,
            "request entity too large",
            &none,
            ErrorKind::InvalidRequest,
            None,
        ),
        (
            422,
            r#"{"object":"error","message":{"detail":[{"type":"extra_forbidden"}]},"type":"invalid_request_error","param":null,"code":null}"#,
            &none,
            ErrorKind::InvalidRequest,
            None,
        ),
        (
            429,
            r#"{"object":"error","message":"Requests rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}"#,
            &none,
            ErrorKind::RateLimited,
            None,
        ),
        (
            429,
            r#"{"message":"Requests rate limit exceeded"}"#,
            &none,
            ErrorKind::RateLimited,
            None,
        ),
        (
            429,
            r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 20 seconds."}}"#,
            &none,
            ErrorKind::RateLimited,
            Some(Duration::from_secs(20)),
        ),
        (
            402,
            r#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#,
            &none,
            ErrorKind::QuotaExhausted,
            None,
        ),
        (
            402,
            r#"{"error":{"code":402,"message":"Insufficient credits"}}"#,
            &none,
            ErrorKind::QuotaExhausted,
            None,
        ),
        (
            412,
            r#"{"error":{"object":"error","type":"invalid_request_error","code":"account_suspended","message":"Account suspended"}}"#,
            &none,
            ErrorKind::QuotaExhausted,
            None,
        ),
        (
            498,
            r#"{"error":{"message":"Flex tier capacity exceeded","type":"capacity_exceeded","code":"capacity_exceeded"}}"#,
            &none,
            ErrorKind::Overloaded,
            None,
        ),
        (
            500,
            r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#,
            &none,
            ErrorKind::ServerError,
            None,
        ),
        (
            502,
            "<html>Bad gateway</html>",
            &none,
            ErrorKind::ServerError,
            None,
        ),
        (
            503,
            r#"{"error":{"message":"The engine is currently overloaded","type":"server_error"}}"#,
            &none,
            ErrorKind::Overloaded,
            None,
        ),
        (504, "", &none, ErrorKind::ServerError, None),
        (408, "", &none, ErrorKind::Timeout, None),
    ];
    for (status, body, headers, kind, wait) in rows {
        let err = openai().classify(
            StatusCode::from_u16(*status).unwrap(),
            headers,
            body.as_bytes(),
            0,
        );
        assert_eq!(err.kind, *kind, "{status} {body}");
        assert_eq!(err.status, Some(*status));
        if wait.is_some() {
            assert_eq!(err.retry_after, *wait, "{status} {body}");
        }
        assert!(!err.message.is_empty());
    }
    let with_headers = headers(&[("retry-after-ms", "250"), ("retry-after", "1")]);
    let err = openai().classify(StatusCode::TOO_MANY_REQUESTS, &with_headers, b"{}", 0);
    assert_eq!(err.retry_after, Some(Duration::from_millis(250)));
    let reset_only = headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "2m0s"),
    ]);
    let err = openai().classify(StatusCode::TOO_MANY_REQUESTS, &reset_only, b"{}", 0);
    assert_eq!(err.retry_after, Some(Duration::from_secs(120)));
}

#[test]
fn anthropic_classification_table() {
    let rows: &[(u16, &str, ErrorKind)] = &[
        (400, "invalid_request_error\",\"message\":\"prompt is too long: 210000 tokens > 200000 maximum", ErrorKind::ContextLength),
        (400, "invalid_request_error\",\"message\":\"Your credit balance is too low to access the Anthropic API.", ErrorKind::QuotaExhausted),
        (400, "invalid_request_error\",\"message\":\"messages: field required", ErrorKind::InvalidRequest),
        (401, "authentication_error\",\"message\":\"invalid x-api-key", ErrorKind::Auth),
        (402, "billing_error\",\"message\":\"billing", ErrorKind::QuotaExhausted),
        (403, "permission_error\",\"message\":\"no access", ErrorKind::Auth),
        (404, "not_found_error\",\"message\":\"model: claude-9", ErrorKind::InvalidRequest),
        (413, "request_too_large\",\"message\":\"Request exceeds the maximum allowed number of bytes.", ErrorKind::InvalidRequest),
        (429, "rate_limit_error\",\"message\":\"Number of requests has exceeded your rate limit", ErrorKind::RateLimited),
        (500, "api_error\",\"message\":\"Internal server error", ErrorKind::ServerError),
        (504, "timeout_error\",\"message\":\"timeout", ErrorKind::Timeout),
        (529, "overloaded_error\",\"message\":\"Overloaded", ErrorKind::Overloaded),
    ];
    for (status, inner, kind) in rows {
        let body = format!(
            "{{\"type\":\"error\",\"error\":{{\"type\":\"{inner}\"}},\"request_id\":\"req_1\"}}"
        );
        let err = anthropic().classify(
            StatusCode::from_u16(*status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            0,
        );
        assert_eq!(err.kind, *kind, "{status} {inner}");
    }
    let cloudflare = anthropic().classify(
        StatusCode::PAYLOAD_TOO_LARGE,
        &HeaderMap::new(),
        b"<html>413 Request Entity Too Large</html>",
        0,
    );
    assert_eq!(cloudflare.kind, ErrorKind::InvalidRequest);
    let reset = headers(&[
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "1970-01-01T00:00:09Z"),
    ]);
    let err = anthropic().classify(
        StatusCode::TOO_MANY_REQUESTS,
        &reset,
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        4_000,
    );
    assert_eq!(err.retry_after, Some(Duration::from_secs(5)));
}

#[test]
fn malformed_bodies_are_decode_errors() {
    for body in [
        &b""[..],
        b"{",
        b"null",
        b"[]",
        b"{\"choices\":[]}",
        b"<html>",
        &[0xff, 0xfe, 0x00],
    ] {
        assert_eq!(
            openai().parse_reply(body).unwrap_err().kind,
            ErrorKind::Decode,
            "{body:?}"
        );
        assert_eq!(
            anthropic().parse_reply(body).unwrap_err().kind,
            ErrorKind::Decode,
            "{body:?}"
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic_parsers_or_streams(bytes in proptest::collection::vec(any::<u8>(), 0..1024), status in 100u16..600) {
        let _ = openai().parse_reply(&bytes);
        let _ = anthropic().parse_reply(&bytes);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let _ = openai().classify(status, &HeaderMap::new(), &bytes, 0);
        let _ = anthropic().classify(status, &HeaderMap::new(), &bytes, 0);
        let _ = run_stream(openai().stream_protocol(), &bytes, &[]);
        let _ = run_stream(anthropic().stream_protocol(), &bytes, &[]);
    }

    #[test]
    fn random_json_values_never_panic(text in "\\PC{0,200}") {
        let quoted = serde_json::to_string(&text).unwrap();
        let wrapped = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":{quoted}}}}}]}}\n\n");
        let _ = run_stream(openai().stream_protocol(), wrapped.as_bytes(), &[]);
        let body = format!("{{\"content\":[{{\"type\":\"text\",\"text\":{quoted}}}]}}");
        prop_assert!(anthropic().parse_reply(body.as_bytes()).is_ok());
    }
}

#[test]
fn deepseek_style_reasoning_content_is_read_as_reasoning() {
    let body = r#"{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"42","reasoning_content":"6 times 7"}}],"model":"deepseek-reasoner"}"#;
    let reply = openai().parse_reply(body.as_bytes()).unwrap();
    assert_eq!(reply.content, "42");
    assert_eq!(reply.reasoning[0].as_reasoning().unwrap().text, "6 times 7");
    let chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"6 times\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"42\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let (items, finished) = run_stream(openai().stream_protocol(), chunk.as_bytes(), &[]);
    assert!(finished);
    let deltas: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(deltas[0].reasoning.as_deref(), Some("6 times"));
    assert_eq!(deltas[1].delta, "42");
}
