//! AWS Bedrock's Converse API end to end against the fake runtime, which checks every
//! SigV4 signature it receives: rotation over a Bedrock API key and two AWS accounts in
//! two regions, model ARNs as one path segment, throttling cooling a key (over HTTP and
//! inside the event stream), failover before the first event, cut event streams as
//! errors, a clock off by ten minutes, a wrong secret and an expired short-term key,
//! and a tool loop with signed reasoning carried both ways.
#![cfg(feature = "bedrock")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use llm_rotate::Clock as _;

use llm_rotate::{
    ChatMessage, ChatOptions, ContentPart, ErrorKind, KeyState, LMRotate, LMRotateConfig,
    LMRotateError, ManualClock, ToolCall, ToolSpec,
};
use rotate_testkit::upstream::{aws_key_json, short_term_bedrock_key};
use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::json;

const MODEL: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

fn config(upstream: &FakeUpstream, keys: serde_json::Value) -> serde_json::Value {
    let mut config = upstream.config(
        &[],
        json!({"selection_strategy": "round_robin", "max_retries": 1}),
    );
    config["providers"]["bedrock"] = json!({"base_url": format!("{}/{{region}}", upstream.url())});
    config["keys"] = keys;
    config
}

fn client(upstream: &FakeUpstream, keys: serde_json::Value) -> LMRotate {
    LMRotate::new(LMRotateConfig::from_value(config(upstream, keys)).unwrap()).unwrap()
}

fn three_keys() -> serde_json::Value {
    json!([
        {"id": "api-key", "provider": "bedrock", "value": "ABSKdGVzdGtpdC1sb25nLXRlcm0"},
        {"id": "acct-1", "provider": "bedrock", "value": aws_key_json("AKIATESTONE", None), "metadata": {"region": "eu-west-1"}},
        {"id": "acct-2", "provider": "bedrock", "value": "testkit-secret/AKIATESTTWO", "metadata": {"access_key_id": "AKIATESTTWO", "region": "us-west-2"}}
    ])
}

async fn state(client: &LMRotate, id: &str) -> KeyState {
    client
        .health()
        .await
        .keys
        .iter()
        .find(|k| k.key_id == id)
        .unwrap()
        .state
}

#[tokio::test]
async fn one_provider_rotates_over_an_api_key_and_two_signed_accounts() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, three_keys());
    let mut served = Vec::new();
    for _ in 0..3 {
        let reply = client
            .chat(
                MODEL,
                &[ChatMessage::system("terse"), ChatMessage::user("hi")],
                ChatOptions::default().max_tokens(64).temperature(0.2),
            )
            .await
            .unwrap();
        assert_eq!(reply.provider, "bedrock");
        assert_eq!(reply.usage.completion_tokens, 3);
        served.push((reply.key_id.clone(), reply.content.clone()));
    }
    served.sort();
    assert_eq!(
        served,
        [
            ("acct-1".to_owned(), "ok from AKIATESTONE".to_owned()),
            ("acct-2".to_owned(), "ok from AKIATESTTWO".to_owned()),
            (
                "api-key".to_owned(),
                "ok from ABSKdGVzdGtpdC1sb25nLXRlcm0".to_owned()
            ),
        ],
        "every signature checked out"
    );
    let requests = upstream.requests_to(Api::Bedrock);
    let by_key = |key: &str| requests.iter().find(|r| r.key == key).unwrap();
    let signed = by_key("AKIATESTONE");
    assert_eq!(
        signed.path,
        "/eu-west-1/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    let authorization = signed.header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIATESTONE/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/bedrock/aws4_request"),
        "{authorization}"
    );
    assert!(signed.header("x-amz-date").is_some());
    assert!(by_key("AKIATESTTWO").path.starts_with("/us-west-2/"));
    let bearer = by_key("ABSKdGVzdGtpdC1sb25nLXRlcm0");
    assert_eq!(
        bearer.path, "/us-east-1/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse",
        "the default region"
    );
    assert_eq!(
        bearer.header("authorization"),
        Some("Bearer ABSKdGVzdGtpdC1sb25nLXRlcm0")
    );
    assert_eq!(
        bearer.body,
        json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "system": [{"text": "terse"}],
            "inferenceConfig": {"maxTokens": 64, "temperature": 0.2}
        })
    );
}

#[tokio::test]
async fn an_arn_and_a_session_token_are_signed_as_sent() {
    let upstream = FakeUpstream::start().await.unwrap();
    let arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0";
    let mut config = config(
        &upstream,
        json!([{"id": "sts", "provider": "bedrock", "value": aws_key_json("ASIATESTSTS", Some("FwoGZXIvYXdzEBYaDH")), "metadata": {"region": "eu-west-1"}}]),
    );
    config["fallback_chains"] = json!({"claude": [{"provider": "bedrock", "upstream": arn}]});
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    let stream = client
        .chat_stream("claude", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    let reply = stream.collect_response().await.unwrap();
    assert_eq!(reply.content, "ok from ASIATESTSTS");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(reply.usage.completion_tokens, 3);
    let sent = &upstream.requests_to(Api::Bedrock)[0];
    assert_eq!(
        sent.path,
        "/eu-west-1/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream"
    );
    assert_eq!(
        sent.header("x-amz-security-token"),
        Some("FwoGZXIvYXdzEBYaDH")
    );
    assert!(sent
        .header("authorization")
        .unwrap()
        .contains("x-amz-security-token"));
}

#[tokio::test]
async fn throttling_cools_the_key_over_http_and_inside_the_stream() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, three_keys());
    upstream.script("AKIATESTONE", [Behavior::RateLimited(None)]);
    // round robin: the api key, then acct-1 (429) and another key
    let reply = client
        .chat(MODEL, &[ChatMessage::user("a")], ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "api-key");
    let reply = client
        .chat(MODEL, &[ChatMessage::user("b")], ChatOptions::default())
        .await
        .unwrap();
    assert_ne!(reply.key_id, "acct-1");
    assert_eq!(state(&client, "acct-1").await, KeyState::CoolingDown);
    // two streams while acct-1 rests: the one that meets acct-2's in-stream throttling
    // moves to the api key before its first event
    upstream.script("AKIATESTTWO", [Behavior::MidStreamError(0)]);
    for _ in 0..2 {
        let mut stream = client
            .chat_stream(MODEL, &[ChatMessage::user("c")], ChatOptions::default())
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            text.push_str(&chunk.unwrap().delta);
        }
        assert_eq!(text, "ok from ABSKdGVzdGtpdC1sb25nLXRlcm0");
    }
    assert_eq!(state(&client, "acct-2").await, KeyState::CoolingDown);
    let health = client.health().await;
    let acct2 = health.keys.iter().find(|k| k.key_id == "acct-2").unwrap();
    assert!(
        acct2
            .last_error
            .as_deref()
            .unwrap()
            .contains("throttlingException"),
        "{:?}",
        acct2.last_error
    );
}

#[tokio::test]
async fn a_cut_event_stream_is_an_error_never_a_clean_end() {
    for behavior in [Behavior::EndWithoutTerminal(2), Behavior::CutAfter(2)] {
        let upstream = FakeUpstream::start().await.unwrap();
        let client = client(
            &upstream,
            json!([{"id": "only", "provider": "bedrock", "value": "ABSKonly"}]),
        );
        upstream.script("ABSKonly", [behavior.clone()]);
        let mut stream = client
            .chat_stream(MODEL, &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
        let mut text = String::new();
        let mut failure = None;
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            match chunk {
                Ok(chunk) => text.push_str(&chunk.delta),
                Err(error) => failure = Some(error),
            }
        }
        assert_eq!(
            text, "ok from ",
            "{behavior:?}: the content before the cut arrived"
        );
        let failure = failure.unwrap_or_else(|| panic!("{behavior:?} ended cleanly"));
        assert!(
            matches!(failure, LMRotateError::Stream(_)),
            "{behavior:?}: {failure}"
        );
        let expected = match behavior {
            Behavior::CutAfter(_) => ErrorKind::Network,
            _ => ErrorKind::Decode,
        };
        assert_eq!(failure.kind(), expected, "{behavior:?}: {failure}");
    }
}

#[tokio::test]
async fn a_wrong_secret_and_an_expired_short_term_key_are_quarantined() {
    let upstream = FakeUpstream::start().await.unwrap();
    let now = llm_rotate::SystemClock.unix_ms();
    let keys = json!([
        {"id": "wrong", "provider": "bedrock", "value": "not-the-secret", "metadata": {"access_key_id": "AKIATESTBAD"}},
        {"id": "expired", "provider": "bedrock", "value": short_term_bedrock_key(now - 13 * 3_600_000, 12 * 3600)},
        {"id": "fresh", "provider": "bedrock", "value": short_term_bedrock_key(now - 60_000, 12 * 3600)}
    ]);
    let client = client(&upstream, keys);
    for _ in 0..3 {
        let reply = client
            .chat(MODEL, &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
        assert_eq!(reply.key_id, "fresh");
    }
    assert_eq!(state(&client, "wrong").await, KeyState::Quarantined);
    assert_eq!(state(&client, "expired").await, KeyState::Quarantined);
    let health = client.health().await;
    let errors: Vec<String> = health
        .keys
        .iter()
        .filter_map(|k| k.last_error.clone())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("InvalidSignatureException")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("ExpiredTokenException")),
        "{errors:?}"
    );
    for error in &errors {
        assert!(
            !error.contains("not-the-secret"),
            "no secret in an error: {error}"
        );
    }
}

#[tokio::test]
async fn a_clock_ten_minutes_off_is_a_configuration_error_that_blames_no_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let now = llm_rotate::SystemClock.unix_ms();
    let clock = Arc::new(ManualClock::new(now - 600_000));
    let keys = json!([{"id": "acct-1", "provider": "bedrock", "value": aws_key_json("AKIATESTONE", None)}]);
    let client = LMRotate::builder(LMRotateConfig::from_value(config(&upstream, keys)).unwrap())
        .clock(clock)
        .build()
        .unwrap();
    let error = client
        .chat(MODEL, &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(error.to_string().contains("clock"), "{error}");
    assert_eq!(state(&client, "acct-1").await, KeyState::Healthy);
}

#[tokio::test]
async fn a_tool_loop_with_signed_reasoning_and_media_both_ways() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        json!([{"id": "k", "provider": "bedrock", "value": "ABSKtools"}]),
    );
    let call = ToolCall::new("tooluse_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script(
        "ABSKtools",
        [
            Behavior::ToolCalls(vec![call.clone()]),
            Behavior::ToolCalls(vec![call.clone()]),
        ],
    );
    let weather = ToolSpec::new(
        "weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    )
    .description("Current weather");
    let options = ChatOptions::default()
        .tool(weather)
        .tool_choice(llm_rotate::ToolChoice::Required)
        .reasoning_budget_tokens(1024)
        .extra("top_k", 40)
        .extra("top_p", 0.9);
    let png = ContentPart::image_bytes(vec![0x89, b'P', b'N', b'G'], Some("image/png"));
    let pdf = ContentPart::pdf_bytes(b"%PDF-1.7".to_vec());
    let mut history = vec![ChatMessage::new(
        llm_rotate::Role::User,
        vec![ContentPart::text("Weather here?"), png, pdf],
    )];
    let first = client.chat(MODEL, &history, options.clone()).await.unwrap();
    assert_eq!(first.tool_calls, std::slice::from_ref(&call));
    assert_eq!(first.finish_reason.as_deref(), Some("tool_calls"));
    let thought = first.reasoning[0].as_reasoning().unwrap();
    assert_eq!(
        (thought.signature.as_deref(), thought.provider.as_str()),
        (Some("sig_bedrock_testkit"), "bedrock")
    );
    let sent = &upstream.requests_to(Api::Bedrock)[0].body;
    assert_eq!(
        sent["messages"][0]["content"],
        json!([{"text": "Weather here?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw=="}}},
            {"document": {"format": "pdf", "name": "document-1", "source": {"bytes": "JVBERi0xLjc="}}}])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "weather", "description": "Current weather",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}],
            "toolChoice": {"any": {}}})
    );
    assert_eq!(
        sent["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 40})
    );
    assert_eq!(sent["inferenceConfig"], json!({"topP": 0.9}));

    let streamed = client
        .chat_stream(MODEL, &history, options.clone())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(
        streamed.message(),
        first.message(),
        "the stream collects to the same turn"
    );

    history.push(first.message());
    history.push(ChatMessage::tool_result("tooluse_1", "18 C"));
    client.chat(MODEL, &history, options).await.unwrap();
    let second = &upstream.requests_to(Api::Bedrock)[2].body;
    assert_eq!(
        second["messages"][1],
        json!({"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Let me think about this.", "signature": "sig_bedrock_testkit"}}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"city": "Paris"}}}
        ]})
    );
    assert_eq!(
        second["messages"][2],
        json!({"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18 C"}]}}]})
    );
}

#[tokio::test]
async fn what_converse_cannot_carry_is_refused_before_any_call() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        json!([{"id": "k", "provider": "bedrock", "value": "ABSKx"}]),
    );
    let web_image = [ChatMessage::new(
        llm_rotate::Role::User,
        vec![ContentPart::image_url("https://example.com/cat.png")],
    )];
    let error = client
        .chat(MODEL, &web_image, ChatOptions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("web URL"), "{error}");
    assert!(upstream.requests_to(Api::Bedrock).is_empty());
}
