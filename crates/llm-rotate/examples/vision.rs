//! Images in a chat: one by URL, one by bytes, in the same user message. Each vendor gets
//! them in its own form (OpenAI `image_url` parts, Anthropic `image` blocks, Gemini
//! `fileData` / `inlineData`).
//!
//! `cargo run -p llm-rotate --example vision`

use llm_rotate::{ChatMessage, ChatOptions, ContentPart, LMRotate, LMRotateConfig, Role};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    upstream.set_default(
        "sk-test-a",
        Behavior::Reply("A cat on a sofa, and a small PNG.".into()),
    );
    let config =
        LMRotateConfig::from_value(upstream.config(&[("a", "openai")], serde_json::json!({})))?;
    let client = LMRotate::new(config)?;

    // the first bytes of a PNG stand in for a real image
    let png = b"\x89PNG\r\n\x1a\n".to_vec();
    let question = ChatMessage::new(
        Role::User,
        vec![
            ContentPart::text("What is in these images?"),
            ContentPart::image_url_with_detail("https://example.com/cat.jpg", "low"),
            ContentPart::image_bytes(png, None),
        ],
    );
    let reply = client
        .chat("gpt-4o", &[question], ChatOptions::default())
        .await?;
    println!("{}", reply.content);
    let sent = &upstream.requests()[0].body["messages"][0]["content"];
    println!("sent as: {}", serde_json::to_string_pretty(sent)?);
    Ok(())
}
