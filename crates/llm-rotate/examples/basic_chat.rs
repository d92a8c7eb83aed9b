//! Basic chat over two keys. Runs offline: a fake OpenAI upstream stands in for the
//! vendor (drop the `base_url` line and give real keys to talk to OpenAI).
//!
//! `cargo run -p llm-rotate --example basic_chat`

use llm_rotate::{configure_from_dict, ChatMessage, ChatOptions, LMRotate, Overrides};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    // The first key is rate-limited once: the call quietly moves to the second.
    upstream.script("sk-test-first", [Behavior::RateLimited(None)]);

    let registry = serde_json::json!({
        "providers": {"openai": {"base_url": upstream.base_url()}},
        "keys": [
            {"id": "openai-1", "provider": "openai", "value": "sk-test-first"},
            {"id": "openai-2", "provider": "openai", "value": "sk-test-second"}
        ]
    });
    let client = LMRotate::new(configure_from_dict(
        registry,
        ["openai-1", "openai-2"],
        Overrides::default(),
    )?)?;

    let reply = client
        .chat(
            "gpt-4o-mini",
            &[ChatMessage::user("Say hello")],
            ChatOptions::default().max_tokens(50),
        )
        .await?;
    println!(
        "{} (served by key {}, {:.1} ms, {} tokens)",
        reply.content, reply.key_id, reply.latency_ms, reply.usage.total_tokens
    );

    let health = client.health().await;
    for key in &health.keys {
        println!("{:10} {}", key.key_id, key.state);
    }
    Ok(())
}
