//! Random bytes and random JSON never make the Gemini parsers panic: every bad body is
//! a classified error; and a service account never prints its private key.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::VecDeque;

use http::StatusCode;
use proptest::prelude::*;
use rotate_core::error::ErrorKind;
use rotate_google::auth::ServiceAccount;
use rotate_google::reply::{classify, parse, Service};
use rotate_google::stream::GeminiStream;
use rotate_providers::events::StreamProtocol;
use rotate_providers::sse::{SseDecoder, SseEvent};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z ]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("candidates".to_owned()),
                    Just("content".to_owned()),
                    Just("parts".to_owned()),
                    Just("text".to_owned()),
                    Just("finishReason".to_owned()),
                    Just("usageMetadata".to_owned()),
                    Just("error".to_owned()),
                    Just("details".to_owned()),
                    Just("promptFeedback".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_reply_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = parse(&bytes) {
            prop_assert!(matches!(e.kind, ErrorKind::Decode | ErrorKind::ContentFilter) || e.status.is_some());
        }
        let status = StatusCode::from_u16(400 + u16::from(bytes.first().copied().unwrap_or(0)) % 200).unwrap();
        let _ = classify(status, &bytes, Service::Studio, 0);
        let _ = classify(status, &bytes, Service::Vertex, 0);
    }

    #[test]
    fn random_json_never_panics_the_parsers(value in json_value()) {
        let text = value.to_string();
        let _ = parse(text.as_bytes());
        let _ = classify(StatusCode::TOO_MANY_REQUESTS, text.as_bytes(), Service::Studio, 0);
        let mut protocol = GeminiStream::default();
        let mut out = VecDeque::new();
        let mut decoder = SseDecoder::new();
        let framed = format!("data: {text}\r\n\r\n");
        let mut on_event = |e: SseEvent<'_>| protocol.on_event(e, &mut out);
        let _ = decoder.feed(framed.as_bytes(), &mut on_event);
    }

    #[test]
    fn random_bytes_never_panic_the_stream(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut protocol = GeminiStream::default();
        let mut out = VecDeque::new();
        let mut decoder = SseDecoder::new();
        let mut on_event = |e: SseEvent<'_>| protocol.on_event(e, &mut out);
        let _ = decoder.feed(&bytes, &mut on_event);
        let _ = decoder.finish(&mut on_event);
    }
}

#[test]
fn a_service_account_never_prints_its_private_key() {
    let json = r#"{"client_email": "a@b.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n", "private_key_id": "kid", "project_id": "p"}"#;
    let account = ServiceAccount::parse(json).unwrap().unwrap();
    let shown = format!("{account:?}");
    assert!(shown.contains("a@b.iam.gserviceaccount.com"));
    assert!(
        !shown.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"),
        "{shown}"
    );
    assert!(ServiceAccount::parse("AIza-not-json").is_none());
    assert!(ServiceAccount::parse("{\"client_email\": 3}")
        .unwrap()
        .is_err());
    let error = rotate_google::auth::TokenSource::new(account).unwrap_err();
    assert!(
        !error.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"),
        "{error}"
    );
}
