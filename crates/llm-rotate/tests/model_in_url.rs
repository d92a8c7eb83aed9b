//! A caller's model id never shapes the upstream URL: for every adapter and arbitrary
//! strings (dot segments, `%2F`, `?`, `#`, CR/LF, Unicode, 10 KB), the request that
//! reaches the fake upstream has exactly the template's path with the model as one
//! encoded segment and the template's query, or the call is refused as an
//! `InvalidRequest` before any request is sent and no key's health changes.
#![cfg(feature = "google")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotate, LMRotateConfig};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use rotate_testkit::FakeUpstream;
use serde_json::json;

const ACCOUNT: &str = "rotator@proj-1.iam.gserviceaccount.com";

/// Where the model sits in each provider's request.
#[derive(Debug, Clone, Copy)]
enum Template {
    /// In the body only; the path is fixed.
    Body(&'static str),
    /// One path segment between a fixed prefix and suffix, then a fixed query.
    Segment {
        prefix: &'static str,
        suffix: &'static str,
        query: Option<&'static str>,
    },
}

const PROVIDERS: [(&str, Template); 6] = [
    ("openai", Template::Body("/v1/chat/completions")),
    ("anthropic", Template::Body("/v1/messages")),
    (
        "azure_openai",
        Template::Segment {
            prefix: "/openai/deployments/",
            suffix: "/chat/completions",
            query: Some("api-version=2024-10-21"),
        },
    ),
    (
        "google",
        Template::Segment {
            prefix: "/v1beta/models/",
            suffix: ":generateContent",
            query: None,
        },
    ),
    (
        "vertex",
        Template::Segment {
            prefix: "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/",
            suffix: ":generateContent",
            query: None,
        },
    ),
    (
        "vertex_express",
        Template::Segment {
            prefix: "/v1/publishers/google/models/",
            suffix: ":generateContent",
            query: None,
        },
    ),
];

fn client(upstream: &FakeUpstream) -> LMRotate {
    let mut config = upstream.config(&[], json!({"max_retries": 0}));
    config["providers"]["azure_openai"] = json!({"base_url": upstream.url()});
    config["providers"]["vertex_express"] =
        json!({"api": "vertex", "base_url": upstream.base_url()});
    config["keys"] = json!([
        {"id": "openai", "provider": "openai", "value": "sk-test-openai"},
        {"id": "anthropic", "provider": "anthropic", "value": "sk-test-anthropic"},
        {"id": "azure_openai", "provider": "azure_openai", "value": "sk-test-azure"},
        {"id": "google", "provider": "google", "value": "sk-test-google"},
        {"id": "vertex", "provider": "vertex", "value": upstream.service_account_json(ACCOUNT, "proj-1"), "metadata": {"location": "europe-west4"}},
        {"id": "vertex_express", "provider": "vertex_express", "value": "sk-test-express", "metadata": {"mode": "express"}},
    ]);
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

/// Checks one call for `model` on `provider`; returns whether it was sent.
async fn check(
    upstream: &FakeUpstream,
    client: &LMRotate,
    provider: &str,
    template: Template,
    model: &str,
) -> bool {
    upstream.clear_requests();
    let options = ChatOptions::default().provider(provider);
    let result = client
        .chat(model, &[ChatMessage::user("hi")], options)
        .await;
    let sent: Vec<_> = upstream
        .requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect();
    match result {
        Err(error) => {
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidRequest,
                "{provider} {model:?}: {error}"
            );
            assert!(
                sent.is_empty(),
                "{provider} {model:?}: refused after I/O: {sent:?}"
            );
            false
        }
        Ok(_) => {
            assert_eq!(sent.len(), 1, "{provider} {model:?}");
            let request = &sent[0];
            match template {
                Template::Body(path) => {
                    assert_eq!(request.path, path, "{model:?}");
                    assert_eq!(request.query, None, "{model:?}");
                    assert_eq!(request.body["model"], model, "{provider}");
                }
                Template::Segment {
                    prefix,
                    suffix,
                    query,
                } => {
                    let segment = request
                        .path
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.strip_suffix(suffix))
                        .unwrap_or_else(|| panic!("{provider} {model:?}: path {}", request.path));
                    assert!(
                        !segment.contains(['/', ':', '?', '#']),
                        "{provider} {model:?}: segment {segment}"
                    );
                    let decoded = percent_decode_str(segment).decode_utf8().unwrap();
                    let expected = model.strip_prefix("models/").unwrap_or(model);
                    assert_eq!(decoded, expected, "{provider}");
                    assert_eq!(request.query.as_deref(), query, "{provider} {model:?}");
                }
            }
            true
        }
    }
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9._:@-]{1,30}",
        "[a-zA-Z0-9._:@/%?#=&~+ -]{1,40}",
        "(\\.|\\.\\.|%2[fF]|%2[eE]|[a-z0-9-]{1,8})(/(\\.|\\.\\.|%2[fF]|%2[eE]|[a-z0-9-]{1,8})){0,5}",
        "[a-z]{1,8}(\r\n|\n|\t|\u{0}|\u{7f}|é|🙂)[a-z]{0,8}",
        Just("gpt-4o/../../../admin".to_owned()),
        Just("gpt-4o?api-version=1".to_owned()),
        Just("azure_openai/x/../../y".to_owned()),
        Just("gemini-2.5-flash%2F..%2F..%2Fcached".to_owned()),
        Just("models/gemini-2.5-flash".to_owned()),
        Just("claude-sonnet-4@20250514".to_owned()),
        Just("x".repeat(10_000)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_model_id_is_one_segment_or_refused_before_io(model in hostile()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let upstream = FakeUpstream::start().await.unwrap();
            let client = client(&upstream);
            for (provider, template) in PROVIDERS {
                check(&upstream, &client, provider, template, &model).await;
            }
            let health = client.health().await;
            assert!(health.keys.iter().all(|k| k.state == KeyState::Healthy && k.failures == 0), "{health:?}");
        });
    }
}

#[tokio::test]
async fn vendor_model_ids_reach_every_adapter_and_the_reported_attacks_none() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream);
    let known = [
        "gpt-4o",
        "claude-sonnet-4@20250514",
        "llama3.1:8b",
        "a.b_c-d",
        "models/gemini-2.5-flash",
    ];
    for (model, (provider, template)) in known.iter().flat_map(|m| PROVIDERS.map(|p| (*m, p))) {
        // `models/…` is Gemini's own form; a deployment is one segment
        let sent = check(&upstream, &client, provider, template, model).await;
        assert_eq!(
            sent,
            !(model.contains('/') && provider == "azure_openai"),
            "{provider} {model}"
        );
    }
    let colon = check(&upstream, &client, "google", PROVIDERS[3].1, "llama3.1:8b").await;
    assert!(colon);
    assert_eq!(
        upstream.requests()[0].path,
        "/v1beta/models/llama3.1%3A8b:generateContent"
    );

    upstream.clear_requests();
    let attacks = [
        "gpt-4o/../../../admin",
        "gpt-4o?api-version=1",
        "azure_openai/x/../../y",
        "gemini-2.5-flash%2F..%2F..%2Fcached",
    ];
    let pins = [None, Some("azure_openai"), Some("google"), Some("vertex")];
    for (model, pin) in attacks.iter().flat_map(|m| pins.map(|p| (*m, p))) {
        let options = ChatOptions {
            provider: pin.map(str::to_owned),
            ..ChatOptions::default()
        };
        let error = client
            .chat(model, &[ChatMessage::user("hi")], options)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{model} {pin:?}");
        assert!(error.to_string().contains("model id"), "{error}");
    }
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());
}
