//! What calls cost: `ChatResponse::cost_usd` and the usage summary's `cost_usd()` by
//! key, provider and model, from the built-in price table or the config's `prices`;
//! a price that is negative or not a number is a config error naming the field.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::FakeUpstream;
use serde_json::json;

async fn client(upstream: &FakeUpstream, prices: serde_json::Value) -> LMRotate {
    let mut config = upstream.config(&[("a", "openai"), ("b", "openai")], json!({}));
    config["prices"] = prices;
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[tokio::test]
async fn each_call_and_the_summary_carry_the_cost() {
    let upstream = FakeUpstream::start().await.unwrap();
    // one dollar per million input tokens, two per million output tokens
    let client = client(
        &upstream,
        json!({"gpt-4o-mini": {"input": 1.0, "output": 2.0}}),
    )
    .await;
    let mut total = 0.0;
    for _ in 0..4 {
        let reply = client
            .chat(
                "gpt-4o-mini",
                &[ChatMessage::user("what does it cost?")],
                ChatOptions::default(),
            )
            .await
            .unwrap();
        let u = reply.usage;
        let expected = (u.prompt_tokens as f64 * 1.0 + u.completion_tokens as f64 * 2.0) / 1e6;
        let cost = reply.cost_usd.unwrap();
        assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
        assert!(cost > 0.0);
        total += cost;
    }
    let usage = client.usage_summary().await;
    assert!((usage.total.cost_usd() - total).abs() < 1e-9);
    assert!((usage.by_model["gpt-4o-mini"].cost_usd() - total).abs() < 1e-9);
    let by_keys: f64 = usage.by_key.values().map(|c| c.cost_usd()).sum();
    assert!((by_keys - total).abs() < 1e-9);
    // the built-in table prices gpt-4o; a model with no price costs nothing known
    let builtin = client
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap();
    assert!(builtin.cost_usd.unwrap() > 0.0);
    let unknown = client
        .chat(
            "openai/some-fine-tune",
            &[ChatMessage::user("hi")],
            ChatOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(unknown.cost_usd, None);
}

#[test]
fn a_bad_price_is_a_config_error_naming_the_field() {
    for (price, path) in [
        (json!({"input": -1.0, "output": 1.0}), "prices.m.input"),
        (json!({"input": 1.0, "output": "cheap"}), "prices.m.output"),
        (
            json!({"input": 1.0, "output": 1.0, "per_call": 3}),
            "prices.m.per_call",
        ),
    ] {
        let parsed = LMRotateConfig::from_value(json!({"prices": {"m": price}}));
        let error = match parsed {
            Err(e) => e,
            Ok(config) => config.validate().unwrap_err(),
        };
        assert_eq!(error.path(), path, "{error}");
    }
}

#[tokio::test]
async fn a_stream_carries_its_cost_and_clients_are_counted_apart() {
    use futures_util::StreamExt;
    use llm_rotate::core::limit::{ClientLimits, LimitKind};

    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        json!({"gpt-4o-mini": {"input": 1.0, "output": 2.0}}),
    )
    .await;
    let ask = [ChatMessage::user("stream the cost")];
    let mut stream = client
        .chat_stream("gpt-4o-mini", &ask, ChatOptions::default().client("team-a"))
        .await
        .unwrap();
    let mut last = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(usage) = chunk.usage {
            last = Some((usage, chunk.cost_usd));
        }
    }
    let (usage, cost) = last.expect("the stream ends with its usage");
    let expected = (usage.prompt_tokens as f64 + usage.completion_tokens as f64 * 2.0) / 1e6;
    let cost = cost.expect("a priced model's stream says what it cost");
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    // collected, the stream's response carries the cost like a non-streamed one
    let collected = client
        .chat_stream("gpt-4o-mini", &ask, ChatOptions::default().client("team-b"))
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert!(collected.cost_usd.unwrap() > 0.0);
    client
        .chat("gpt-4o-mini", &ask, ChatOptions::default().client("team-a"))
        .await
        .unwrap();
    let summary = client.usage_summary().await;
    assert_eq!(summary.by_client["team-a"].requests, 2);
    assert_eq!(summary.by_client["team-b"].requests, 1);
    let by_client: u64 = summary.by_client.values().map(|c| c.cost_nano_usd).sum();
    assert_eq!(by_client, summary.total.cost_nano_usd);
    // what team-a used counts against its limits
    let tight = ClientLimits {
        tpm: Some(summary.by_client["team-a"].total_tokens),
        ..Default::default()
    };
    let refused = client.admit_client("team-a", &tight).await.unwrap_err();
    assert_eq!(refused.kind, LimitKind::Tokens);
    assert!(client.admit_client("team-b", &tight).await.is_ok());
}
