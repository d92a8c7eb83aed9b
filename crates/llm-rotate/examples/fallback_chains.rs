//! Fallback chains: `smart` tries OpenAI's gpt-4o, then Anthropic's Claude. Here every
//! OpenAI key is overloaded, so the call lands on Anthropic.
//!
//! `cargo run -p llm-rotate --example fallback_chains`

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    upstream.set_default("sk-test-oa-1", Behavior::Overloaded);
    upstream.set_default("sk-test-oa-2", Behavior::Overloaded);

    let mut config = upstream.config(
        &[
            ("oa-1", "openai"),
            ("oa-2", "openai"),
            ("claude-1", "anthropic"),
        ],
        serde_json::json!({"max_retries": 1}),
    );
    config["fallback_chains"] = serde_json::json!({"smart": [
        {"provider": "openai", "upstream": "gpt-4o"},
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
    ]});
    let client = LMRotate::new(LMRotateConfig::from_value(config)?)?;

    let reply = client
        .chat("smart", &[ChatMessage::user("Hi")], ChatOptions::default())
        .await?;
    println!(
        "served by {} / {} with key {}",
        reply.provider, reply.model, reply.key_id
    );
    for key in client.health().await.keys {
        println!(
            "{:9} {:13} failures {}",
            key.key_id,
            key.state.to_string(),
            key.failures
        );
    }
    Ok(())
}
