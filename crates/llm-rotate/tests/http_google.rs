//! Gemini on AI Studio end to end against the fake upstream: exact request bodies for
//! every option and part kind, a PDF and a PNG round trip, a 25 MB input through the
//! Files API with the call's own key, every error row, streaming, `chat` on Gemini, and
//! `generate_content` refused for other providers before any network call.
#![cfg(feature = "google")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use llm_rotate::{
    ChatMessage, ChatOptions, Content, ContentPart, ErrorKind, GenerateOptions, KeyState, LMRotate,
    LMRotateConfig, LMRotateError, ManualClock,
};
use rotate_testkit::upstream::Api;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

const START_MS: u64 = 1_767_225_600_000;
const MODEL: &str = "gemini-2.5-flash";

fn client(
    upstream: &FakeUpstream,
    keys: &[&str],
    defaults: serde_json::Value,
) -> (LMRotate, Arc<ManualClock>) {
    let keys: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "google")).collect();
    let mut config = upstream.config(&keys, defaults);
    config["providers"]["google"]["inline_limit_bytes"] = json!(20 * 1024 * 1024);
    let clock = Arc::new(ManualClock::new(START_MS));
    let client = LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(clock.clone())
        .build()
        .unwrap();
    (client, clock)
}

fn round_robin() -> serde_json::Value {
    json!({"selection_strategy": "round_robin"})
}

fn generate_requests(upstream: &FakeUpstream) -> Vec<rotate_testkit::upstream::RecordedRequest> {
    upstream
        .requests()
        .into_iter()
        .filter(|r| r.api == Api::Gemini)
        .collect()
}

#[tokio::test]
async fn every_option_reaches_the_body_and_the_key_goes_in_its_header() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(&upstream, &["a"], round_robin());
    let mut extra = serde_json::Map::new();
    extra.insert(
        "response_schema".into(),
        json!({"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}),
    );
    extra.insert(
        "tools".into(),
        json!([{"functionDeclarations": [{"name": "lookup"}]}]),
    );
    let opts = GenerateOptions {
        system_instruction: Some("Answer in JSON".into()),
        response_mime_type: Some("application/json".into()),
        max_output_tokens: Some(300),
        temperature: Some(0.2),
        top_p: Some(0.9),
        seed: Some(42),
        thinking_budget: Some(512),
        extra,
        ..GenerateOptions::default()
    };
    let reply = client
        .generate_content(MODEL, vec!["Count".into()], opts)
        .await
        .unwrap();
    assert_eq!(
        reply.content, "ok from sk-test-a",
        "thought parts are not content"
    );
    assert_eq!(reply.provider, "google");
    assert_eq!(reply.model, MODEL);
    assert_eq!(reply.finish_reason.as_deref(), Some("STOP"));
    assert_eq!(
        reply.usage.reasoning_tokens, 7,
        "thinking tokens are counted"
    );
    assert_eq!(reply.usage.completion_tokens, 3 + 7);
    assert_eq!(reply.usage.total_tokens, reply.usage.prompt_tokens + 10);
    let sent = &generate_requests(&upstream)[0];
    assert_eq!(sent.path, format!("/v1beta/models/{MODEL}:generateContent"));
    assert_eq!(sent.header("x-goog-api-key"), Some("sk-test-a"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Count"}]}],
            "systemInstruction": {"parts": [{"text": "Answer in JSON"}]},
            "generationConfig": {
                "temperature": 0.2, "topP": 0.9, "maxOutputTokens": 300, "seed": 42,
                "responseMimeType": "application/json",
                "thinkingConfig": {"thinkingBudget": 512},
                "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}
            },
            "tools": [{"functionDeclarations": [{"name": "lookup"}]}]
        })
    );
    let usage = client.usage_summary().await;
    assert_eq!(usage.by_provider["google"].requests, 1);
    assert_eq!(usage.by_model[MODEL].completion_tokens, 10);
}

fn png() -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    data
}

#[tokio::test]
async fn a_pdf_and_a_png_round_trip_as_inline_data() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(&upstream, &["a"], round_robin());
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF".to_vec();
    let image = png();
    let contents: Vec<Content> = vec![
        "What is in these?".into(),
        ContentPart::pdf_bytes(pdf.clone()).into(),
        ContentPart::image_bytes(image.clone(), None).into(),
    ];
    let reply = client
        .generate_content(MODEL, contents, GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.content, "ok from sk-test-a");
    let sent = &generate_requests(&upstream)[0];
    let turns = sent.body["contents"].as_array().unwrap();
    assert_eq!(turns.len(), 1, "role-less contents form one user turn");
    let parts = turns[0]["parts"].as_array().unwrap();
    assert_eq!(parts[0], json!({"text": "What is in these?"}));
    let decode = |p: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(p["inlineData"]["data"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(parts[1]["inlineData"]["mimeType"], "application/pdf");
    assert_eq!(decode(&parts[1]), pdf);
    assert_eq!(
        parts[2]["inlineData"]["mimeType"], "image/png",
        "sniffed from the magic bytes"
    );
    assert_eq!(decode(&parts[2]), image);
}

#[tokio::test]
async fn a_25_mb_input_goes_through_the_files_api_with_the_same_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(&upstream, &["a", "b"], round_robin());
    let big: Vec<u8> = std::iter::once(b"%PDF-1.7\n".to_vec())
        .chain(std::iter::repeat_n(vec![b'x'; 1024 * 1024], 25))
        .flatten()
        .collect();
    let small = png();
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(5)))],
    );
    let reply = client
        .generate_content(
            MODEL,
            vec![
                "Summarise".into(),
                ContentPart::pdf_bytes(big.clone()).into(),
                ContentPart::image_bytes(small.clone(), None).into(),
            ],
            GenerateOptions::default(),
        )
        .await
        .unwrap();
    // a's upload went through, its generate call was rate limited; b uploaded its own copy
    assert_eq!(reply.key_id, "b");
    let files = upstream.uploaded_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, _, size)| *size == big.len()));
    let owners: Vec<&str> = files.iter().map(|(_, owner, _)| owner.as_str()).collect();
    assert!(owners.contains(&"sk-test-a") && owners.contains(&"sk-test-b"));
    let requests = upstream.requests();
    let uploads: Vec<_> = requests.iter().filter(|r| r.api == Api::Files).collect();
    assert_eq!(
        uploads[0].header("x-goog-upload-protocol"),
        Some("resumable")
    );
    assert_eq!(uploads[0].header("x-goog-upload-command"), Some("start"));
    assert_eq!(
        uploads[0].header("x-goog-upload-header-content-length"),
        Some(big.len().to_string().as_str())
    );
    assert_eq!(
        uploads[0].header("x-goog-upload-header-content-type"),
        Some("application/pdf")
    );
    assert_eq!(
        uploads[1].header("x-goog-upload-command"),
        Some("upload, finalize")
    );
    assert_eq!(uploads[1].header("x-goog-upload-offset"), Some("0"));
    assert_eq!(uploads[1].body_len, big.len());
    assert!(
        uploads[2].path.starts_with("/v1beta/files/"),
        "polled until ACTIVE"
    );
    let last = generate_requests(&upstream).pop().unwrap();
    assert_eq!(last.key, "sk-test-b");
    assert!(
        last.body_len < 1024 * 1024,
        "only the small image stays inline"
    );
    let parts = last.body["contents"][0]["parts"].as_array().unwrap();
    let uri = parts[1]["fileData"]["fileUri"].as_str().unwrap();
    let b_file = files
        .iter()
        .find(|(_, owner, _)| owner == "sk-test-b")
        .unwrap();
    assert!(uri.ends_with(&b_file.0), "{uri}");
    assert_eq!(parts[1]["fileData"]["mimeType"], "application/pdf");
    assert_eq!(parts[2]["inlineData"]["mimeType"], "image/png");
}

#[tokio::test]
async fn each_error_row_acts_on_the_key_as_the_table_says() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(
        &upstream,
        &["a", "b", "c", "d"],
        json!({"selection_strategy": "round_robin", "max_retries": 1}),
    );
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_millis(38_500)))],
    );
    upstream.script("sk-test-b", [Behavior::QuotaExhausted]);
    upstream.script("sk-test-c", [Behavior::Unauthorized]);
    let reply = client
        .generate_content(MODEL, vec!["hi".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "d");
    let health = client.health().await;
    let state = |id: &str| health.keys.iter().find(|k| k.key_id == id).unwrap().clone();
    assert_eq!(state("a").state, KeyState::CoolingDown);
    assert_eq!(
        state("a").available_in_ms,
        Some(38_500),
        "RetryInfo.retryDelay is the wait"
    );
    // a per-day quota is gone until Google's daily reset (midnight Pacific)
    assert_eq!(state("b").state, KeyState::CoolingDown);
    let until_reset = rotate_google::daily::next_reset_ms(START_MS) - START_MS;
    assert_eq!(state("b").available_in_ms, Some(until_reset));
    assert_eq!(
        state("c").state,
        KeyState::Quarantined,
        "API_KEY_INVALID is auth"
    );
    assert_eq!(state("d").state, KeyState::Healthy);

    // caller's-fault errors: one attempt, no retry, key untouched
    for (behavior, kind) in [
        (Behavior::Blocked, ErrorKind::ContentFilter),
        (Behavior::BadRequest, ErrorKind::InvalidRequest),
        (Behavior::ContextLength, ErrorKind::ContextLength),
    ] {
        upstream.clear_requests();
        upstream.script("sk-test-d", [behavior]);
        let error = client
            .generate_content(MODEL, vec!["hi".into()], GenerateOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
        assert_eq!(generate_requests(&upstream).len(), 1);
    }
    // overloaded and server errors count a failure and move on
    let (client, _) = client_with_two(&upstream);
    upstream.script("sk-test-e", [Behavior::Overloaded]);
    let reply = client
        .generate_content(MODEL, vec!["hi".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "f");
    let health = client.health().await;
    assert_eq!(health.keys[0].consecutive_failures, 1);
    assert_eq!(
        health.keys[0]
            .last_error
            .as_deref()
            .map(|e| e.contains("overloaded")),
        Some(true)
    );
}

fn client_with_two(upstream: &FakeUpstream) -> (LMRotate, Arc<ManualClock>) {
    client(upstream, &["e", "f"], round_robin())
}

#[tokio::test]
async fn streams_accumulate_text_with_usage_on_the_last_chunk() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(&upstream, &["a", "b"], round_robin());
    upstream.set_default("sk-test-a", Behavior::Reply("one two three four".into()));
    let mut stream = client
        .generate_content_stream(
            MODEL,
            vec!["go".into()],
            GenerateOptions {
                thinking_budget: Some(64),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut text = String::new();
    let mut usages = Vec::new();
    let mut finish = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.provider, "google");
        text.push_str(&chunk.delta);
        usages.extend(chunk.usage);
        if chunk.finish_reason.is_some() {
            finish = chunk.finish_reason;
        }
    }
    assert_eq!(text, "one two three four", "thoughts are not text");
    assert_eq!(finish.as_deref(), Some("STOP"));
    assert_eq!(usages.len(), 1);
    assert_eq!(usages[0].completion_tokens, 4 + 7);
    let sent = &generate_requests(&upstream)[0];
    assert_eq!(
        sent.path,
        format!("/v1beta/models/{MODEL}:streamGenerateContent")
    );
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    drop(stream);
    let usage = client.usage_summary().await;
    assert_eq!(usage.by_key["a"].completion_tokens, 11);

    // a cut after content is one Err item; before content it fails over
    upstream.script("sk-test-b", [Behavior::CutAfter(2)]);
    let mut stream = client
        .generate_content_stream(MODEL, vec!["go".into()], GenerateOptions::default())
        .await
        .unwrap();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    assert!(
        items.last().unwrap().is_err(),
        "a cut stream ends in an error"
    );
    upstream.script("sk-test-a", [Behavior::EndWithoutTerminal(0)]);
    let mut stream = client
        .generate_content_stream(MODEL, vec!["go".into()], GenerateOptions::default())
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        text.push_str(&item.unwrap().delta);
    }
    assert_eq!(
        text, "ok from sk-test-b",
        "no content yet: failed over to b"
    );
}

#[tokio::test]
async fn chat_works_on_gemini_and_generate_content_refuses_other_providers() {
    let upstream = FakeUpstream::start().await.unwrap();
    let config = upstream.config(&[("g", "google"), ("o", "openai")], round_robin());
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    let reply = client
        .chat(
            MODEL,
            &[
                ChatMessage::system("be brief"),
                ChatMessage::user("hi"),
                ChatMessage::assistant("hello"),
                ChatMessage::user("again"),
            ],
            ChatOptions {
                max_tokens: Some(20),
                temperature: Some(0.1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reply.provider, "google");
    assert_eq!(reply.content, "ok from sk-test-g");
    let sent = &generate_requests(&upstream)[0];
    assert_eq!(
        sent.body["systemInstruction"],
        json!({"parts": [{"text": "be brief"}]})
    );
    let roles: Vec<&str> = sent.body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 20);
    let mut stream = client
        .chat_stream(MODEL, &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&chunk.unwrap().delta);
    }
    assert_eq!(text, "ok from sk-test-g");

    upstream.clear_requests();
    for (model, provider) in [("gpt-4o", None), (MODEL, Some("openai"))] {
        let options = || GenerateOptions {
            provider: provider.map(str::to_owned),
            ..Default::default()
        };
        let error = client
            .generate_content(model, vec!["hi".into()], options())
            .await
            .unwrap_err();
        assert!(matches!(error, LMRotateError::Configuration(_)), "{error}");
        assert!(error.to_string().contains("openai"), "{error}");
        let error = client
            .generate_content_stream(model, vec!["hi".into()], options())
            .await
            .err()
            .unwrap();
        assert!(matches!(error, LMRotateError::Configuration(_)));
    }
    assert!(
        upstream.requests().is_empty(),
        "refused before any network call"
    );
}

#[tokio::test]
async fn malformed_gemini_bodies_are_decode_errors_and_rotate() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = client(&upstream, &["a", "b"], round_robin());
    upstream.script("sk-test-a", [Behavior::MalformedJson]);
    let reply = client
        .generate_content(MODEL, vec!["hi".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "b");
    let health = client.health().await;
    assert!(health.keys[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("malformed"));
}
