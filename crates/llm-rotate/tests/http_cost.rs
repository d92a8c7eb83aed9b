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
