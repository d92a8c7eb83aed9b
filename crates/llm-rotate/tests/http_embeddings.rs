//! `LMRotate::embed` against the fake upstream: rotation past a rate-limited key, a
//! chain whose Anthropic entry (no embeddings API) is skipped with the reason, Gemini's
//! `batchEmbedContents` with `dimensions`, vectors in input order, usage counted, and a
//! malformed answer blamed on the upstream.
#![cfg(feature = "google")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{EmbedOptions, ErrorKind, LMRotate, LMRotateConfig, LMRotateError};
use rotate_testkit::upstream::vector_of;
use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::json;

fn client(upstream: &FakeUpstream, keys: &[(&str, &str)]) -> LMRotate {
    let mut config = upstream.config(
        keys,
        json!({"max_retries": 0, "selection_strategy": "priority"}),
    );
    config["fallback_chains"] = json!({"vectors": [
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"},
        {"provider": "openai", "upstream": "text-embedding-3-small"},
        {"provider": "google", "upstream": "gemini-embedding-001"}
    ]});
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[tokio::test]
async fn embeddings_rotate_skip_providers_without_them_and_count_usage() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        &[("an", "anthropic"), ("a", "openai"), ("b", "openai")],
    );
    upstream.script("sk-test-a", [Behavior::RateLimited(None)]);
    let inputs = ["a cat", "a much longer dog"];
    let answer = client
        .embed("vectors", &inputs, EmbedOptions::default().dimensions(6))
        .await
        .unwrap();
    assert_eq!(answer.provider, "openai");
    assert_eq!(answer.key_id, "b", "the rate-limited key was rotated past");
    assert_eq!(
        answer.embeddings,
        vec![vector_of(inputs[0], Some(6)), vector_of(inputs[1], Some(6))]
    );
    assert!(answer.usage.prompt_tokens > 0);
    assert!(!answer.passthrough);
    let requests = upstream.requests();
    assert!(
        requests.iter().all(|r| r.key != "sk-test-an"),
        "Anthropic was never called"
    );
    let sent = &requests.last().unwrap().body;
    assert_eq!(
        sent,
        &json!({"model": "text-embedding-3-small", "input": ["a cat", "a much longer dog"], "dimensions": 6})
    );
    assert!(requests.last().unwrap().path.ends_with("/embeddings"));
    let usage = client.usage_summary().await;
    assert!(usage.by_key["b"].total_tokens > 0, "{usage:?}");
}

#[tokio::test]
async fn gemini_embeddings_batch_the_inputs() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("g", "google")]);
    let answer = client
        .embed(
            "vectors",
            &["one", "three"],
            EmbedOptions::default().dimensions(3),
        )
        .await
        .unwrap();
    assert_eq!(answer.provider, "google");
    assert_eq!(
        answer.embeddings,
        vec![vector_of("one", Some(3)), vector_of("three", Some(3))]
    );
    let sent = &upstream.requests()[0];
    assert_eq!(sent.api, Api::Gemini);
    assert!(
        sent.path
            .ends_with("/models/gemini-embedding-001:batchEmbedContents"),
        "{}",
        sent.path
    );
    assert_eq!(
        sent.body["requests"][1],
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "three"}]}, "outputDimensionality": 3})
    );
}

#[tokio::test]
async fn no_embedding_provider_and_a_malformed_answer_say_why() {
    let upstream = FakeUpstream::start().await.unwrap();
    let only_anthropic = client(&upstream, &[("an", "anthropic")]);
    let error = only_anthropic
        .embed(
            "vectors",
            &["x"],
            EmbedOptions::default().provider("anthropic"),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no embeddings API"), "{error}");
    assert!(upstream.requests().is_empty());

    let client = client(&upstream, &[("a", "openai")]);
    upstream.script("sk-test-a", [Behavior::Body(json!({"data": "not a list"}))]);
    let error = client
        .embed(
            "text-embedding-3-small",
            &["x"],
            EmbedOptions::default().provider("openai"),
        )
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(attempts[0].error.kind, ErrorKind::Decode);
}
