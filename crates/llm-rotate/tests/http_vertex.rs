//! Vertex AI end to end against the fake upstream and its token endpoint: a service
//! account's token fetched once for 50 concurrent calls, renewed after expiry (manual
//! clock) and after a 401; express-mode API keys; `credentials_file`; large inline data
//! refused before any network call; shared-capacity 429s; fallback from `google` to
//! `vertex`.
#![cfg(feature = "google")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use llm_rotate::{
    ContentPart, ErrorKind, GenerateOptions, KeyState, LMRotate, LMRotateConfig, ManualClock,
};
use rotate_testkit::upstream::Api;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

const START_MS: u64 = 1_767_225_600_000;
const MODEL: &str = "gemini-2.5-pro";
const ACCOUNT: &str = "rotator@proj-1.iam.gserviceaccount.com";

fn build(
    upstream: &FakeUpstream,
    keys: serde_json::Value,
    extra: serde_json::Value,
) -> (LMRotate, Arc<ManualClock>) {
    let mut config = upstream.config(&[], json!({"selection_strategy": "round_robin"}));
    config["keys"] = keys;
    if let Some(chains) = extra.get("fallback_chains") {
        config["fallback_chains"] = chains.clone();
    }
    let clock = Arc::new(ManualClock::new(START_MS));
    upstream.set_clock(clock.clone());
    let client = LMRotate::builder(LMRotateConfig::from_value(config).unwrap())
        .clock(clock.clone())
        .build()
        .unwrap();
    (client, clock)
}

fn account_key(upstream: &FakeUpstream, id: &str) -> serde_json::Value {
    json!({"id": id, "provider": "vertex", "value": upstream.service_account_json(ACCOUNT, "proj-1"), "metadata": {"location": "europe-west4"}})
}

fn token_requests(upstream: &FakeUpstream) -> usize {
    upstream
        .requests()
        .iter()
        .filter(|r| r.api == Api::Token)
        .count()
}

fn vertex_requests(upstream: &FakeUpstream) -> Vec<rotate_testkit::RecordedRequest> {
    upstream
        .requests()
        .into_iter()
        .filter(|r| r.api == Api::Vertex)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_serves_fifty_concurrent_calls_and_is_renewed_after_expiry() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default(
        ACCOUNT,
        Behavior::Latency(Duration::from_millis(20), Box::new(Behavior::Ok)),
    );
    let (client, clock) = build(&upstream, json!([account_key(&upstream, "sa")]), json!({}));
    let calls = (0..50).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .generate_content(
                    MODEL,
                    vec![format!("call {i}").into()],
                    GenerateOptions::default(),
                )
                .await
        })
    });
    for call in calls {
        let reply = call.await.unwrap().unwrap();
        assert_eq!(reply.content, format!("ok from {ACCOUNT}"));
        assert_eq!(reply.provider, "vertex");
    }
    assert_eq!(
        token_requests(&upstream),
        1,
        "one refresh shared by every caller"
    );
    let sent = vertex_requests(&upstream);
    assert_eq!(sent.len(), 50);
    assert_eq!(
        sent[0].path,
        format!("/v1/projects/proj-1/locations/europe-west4/publishers/google/models/{MODEL}:generateContent")
    );
    let bearer = sent[0].header("authorization").unwrap().to_owned();
    assert!(bearer.starts_with("Bearer ya29.testkit-"), "{bearer}");
    assert!(sent
        .iter()
        .all(|r| r.header("authorization") == Some(bearer.as_str())));
    let token_call = upstream
        .requests()
        .into_iter()
        .find(|r| r.api == Api::Token)
        .unwrap();
    assert_eq!(
        token_call.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        token_call.key, ACCOUNT,
        "the testkit verified the JWT and read its issuer"
    );

    // still fresh 4 minutes before expiry is reached ...
    clock.advance(Duration::from_secs(3599 - 241));
    client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(token_requests(&upstream), 1);
    // ... renewed from then on
    clock.advance(Duration::from_secs(2));
    client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(token_requests(&upstream), 2);
    let last = vertex_requests(&upstream).pop().unwrap();
    assert_ne!(last.header("authorization"), Some(bearer.as_str()));
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once_with_a_new_one() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = build(&upstream, json!([account_key(&upstream, "sa")]), json!({}));
    client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    upstream.revoke_tokens();
    let reply = client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "sa");
    assert_eq!(token_requests(&upstream), 2);
    let sent = vertex_requests(&upstream);
    assert_eq!(sent.len(), 3, "the refused request, then the retry");
    assert_eq!(
        client.health().await.keys[0].state,
        KeyState::Healthy,
        "a stale token is not a bad key"
    );
}

#[tokio::test]
async fn a_refused_service_account_quarantines_its_key() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut broken: serde_json::Value =
        serde_json::from_str(&upstream.service_account_json(ACCOUNT, "proj-1")).unwrap();
    broken["private_key_id"] = json!("not-the-registered-kid");
    let keys = json!([
        {"id": "bad", "provider": "vertex", "value": broken.to_string()},
        {"id": "express", "provider": "vertex", "value": "AQ.express-key", "metadata": {"mode": "express"}}
    ]);
    let (client, _) = build(&upstream, keys, json!({}));
    let reply = client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(reply.key_id, "express");
    let health = client.health().await;
    assert_eq!(health.keys[0].state, KeyState::Quarantined);
    assert!(health.keys[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("token endpoint"));
    let express = vertex_requests(&upstream).pop().unwrap();
    assert_eq!(
        express.path,
        format!("/v1/publishers/google/models/{MODEL}:generateContent")
    );
    assert_eq!(express.header("x-goog-api-key"), Some("AQ.express-key"));
    assert_eq!(express.header("authorization"), None);
}

#[tokio::test]
async fn credentials_file_names_the_service_account() {
    let upstream = FakeUpstream::start().await.unwrap();
    let path = std::env::temp_dir().join(format!("llm-rotate-sa-{}.json", std::process::id()));
    std::fs::write(&path, upstream.service_account_json(ACCOUNT, "proj-file")).unwrap();
    let keys = json!([{"id": "file", "provider": "vertex", "metadata": {"credentials_file": path.to_str().unwrap(), "location": "global"}}]);
    let (client, _) = build(&upstream, keys, json!({}));
    let reply = client
        .generate_content(MODEL, vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(reply.content, format!("ok from {ACCOUNT}"));
    let sent = vertex_requests(&upstream).pop().unwrap();
    assert!(
        sent.path
            .starts_with("/v1/projects/proj-file/locations/global/"),
        "{}",
        sent.path
    );
}

#[tokio::test]
async fn vertex_refuses_large_inline_data_before_any_request() {
    let upstream = FakeUpstream::start().await.unwrap();
    let (client, _) = build(&upstream, json!([account_key(&upstream, "sa")]), json!({}));
    let big = vec![0u8; 21 * 1024 * 1024];
    let error = client
        .generate_content(
            MODEL,
            vec![ContentPart::pdf_bytes(big).into()],
            GenerateOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(error.to_string().contains("gs://"), "{error}");
    assert!(vertex_requests(&upstream).is_empty());
}

#[tokio::test]
async fn shared_capacity_429s_count_a_failure_and_chains_fall_back_to_vertex() {
    let upstream = FakeUpstream::start().await.unwrap();
    let keys = json!([
        {"id": "g", "provider": "google", "value": "AIza-test-g"},
        account_key(&upstream, "sa"),
        {"id": "ex", "provider": "vertex", "value": "AQ.express", "metadata": {"mode": "express"}}
    ]);
    let chains = json!({"fallback_chains": {"smart": [
        {"provider": "google", "upstream": "gemini-2.5-flash"},
        {"provider": "vertex", "upstream": "gemini-2.5-pro"}
    ]}});
    let (client, _) = build(&upstream, keys, chains);
    upstream.script(
        "AIza-test-g",
        [Behavior::RateLimited(Some(Duration::from_secs(10)))],
    );
    upstream.script(ACCOUNT, [Behavior::Overloaded]);
    let reply = client
        .generate_content("smart", vec!["x".into()], GenerateOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (reply.provider.as_str(), reply.key_id.as_str()),
        ("vertex", "ex")
    );
    assert_eq!(reply.model, "gemini-2.5-pro");
    let health = client.health().await;
    let key = |id: &str| health.keys.iter().find(|k| k.key_id == id).unwrap().clone();
    assert_eq!(key("g").state, KeyState::CoolingDown);
    assert_eq!(
        key("sa").state,
        KeyState::Healthy,
        "Google's capacity, not the key's quota"
    );
    assert_eq!(key("sa").consecutive_failures, 1);
    let paths: Vec<String> = upstream
        .requests()
        .iter()
        .filter(|r| r.api != Api::Token)
        .map(|r| r.path.clone())
        .collect();
    assert!(
        paths[0].starts_with("/v1beta/models/gemini-2.5-flash:"),
        "{paths:?}"
    );
    assert!(
        paths[1].contains("/publishers/google/models/gemini-2.5-pro:"),
        "{paths:?}"
    );
}
