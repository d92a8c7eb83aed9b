//! The four strategies' orders, end to end over HTTP against the fake upstream.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::FakeUpstream;
use serde_json::json;

async fn order(
    strategy: &str,
    keys: &[(&str, &str)],
    tweak: impl FnOnce(&mut serde_json::Value),
    n: usize,
) -> Vec<String> {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = upstream.config(keys, json!({"selection_strategy": strategy}));
    tweak(&mut config);
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    for _ in 0..n {
        client
            .chat(
                "gpt-4o-mini",
                &[ChatMessage::user("hi")],
                ChatOptions::default(),
            )
            .await
            .unwrap();
    }
    upstream.ids_called()
}

const THREE: &[(&str, &str)] = &[("a", "openai"), ("b", "openai"), ("c", "openai")];

#[tokio::test]
async fn round_robin() {
    assert_eq!(
        order("round_robin", THREE, |_| {}, 7).await,
        ["a", "b", "c", "a", "b", "c", "a"]
    );
}

#[tokio::test]
async fn priority() {
    let got = order(
        "priority",
        THREE,
        |c| {
            c["keys"][0]["priority"] = json!(5);
            c["keys"][1]["priority"] = json!(1);
            c["keys"][2]["priority"] = json!(1);
        },
        4,
    )
    .await;
    assert_eq!(got, ["b", "c", "b", "c"]);
}

#[tokio::test]
async fn weighted() {
    let got = order(
        "weighted",
        THREE,
        |c| {
            c["keys"][0]["weight"] = json!(5);
        },
        14,
    )
    .await;
    assert_eq!(
        got,
        ["a", "a", "b", "a", "c", "a", "a", "a", "a", "b", "a", "c", "a", "a"]
    );
}

#[tokio::test]
async fn health_aware_spreads() {
    let keys: Vec<(String, &str)> = (0..5).map(|i| (format!("k{i}"), "openai")).collect();
    let refs: Vec<(&str, &str)> = keys.iter().map(|(id, p)| (id.as_str(), *p)).collect();
    let got = order("health_aware", &refs, |_| {}, 100).await;
    for (id, _) in &refs {
        let n = got.iter().filter(|k| k == id).count();
        assert!((1..=40).contains(&n), "{id} served {n} of 100");
    }
}
