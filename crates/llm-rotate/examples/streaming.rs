//! Streaming: deltas as they arrive; the last chunk carries the finish reason and usage.
//! A key that fails before the first chunk is replaced transparently.
//!
//! `cargo run -p llm-rotate --example streaming`

use std::io::Write;

use futures_util::StreamExt;
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    upstream.script("sk-test-a", [Behavior::ServerError(503)]);
    upstream.set_default(
        "sk-test-b",
        Behavior::Reply("Streaming, one word at a time.".into()),
    );
    let config = LMRotateConfig::from_value(
        upstream.config(&[("a", "openai"), ("b", "openai")], serde_json::json!({})),
    )?;
    let client = LMRotate::new(config)?;

    let mut stream = client
        .chat_stream(
            "gpt-4o-mini",
            &[ChatMessage::user("Stream something")],
            ChatOptions::default(),
        )
        .await?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        print!("{}", chunk.delta);
        std::io::stdout().flush()?;
        if let (Some(reason), Some(usage)) = (chunk.finish_reason, chunk.usage) {
            println!(
                "\n[{reason}; {} prompt + {} completion tokens via {}]",
                usage.prompt_tokens, usage.completion_tokens, chunk.provider
            );
        }
    }
    Ok(())
}
