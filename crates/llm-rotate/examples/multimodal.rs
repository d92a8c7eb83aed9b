//! Gemini multimodal input: a PDF and an image in one user turn, with a system
//! instruction and a JSON answer, then the same request streamed. The first key is
//! rate limited (Gemini's RetryInfo says how long), so the call moves to the second.
//!
//! `cargo run -p llm-rotate --example multimodal`
//!
//! Against the real service, drop the fake upstream and configure keys of the `google`
//! provider (or `vertex` with a service-account JSON).

use std::time::Duration;

use futures_util::StreamExt;
use llm_rotate::{Content, ContentPart, GenerateOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = FakeUpstream::start().await?;
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(30)))],
    );
    upstream.set_default(
        "sk-test-b",
        Behavior::Reply(r#"{"pages": 1, "chart": "bar"}"#.into()),
    );
    let config = LMRotateConfig::from_value(
        upstream.config(&[("a", "google"), ("b", "google")], serde_json::json!({})),
    )?;
    let client = LMRotate::new(config)?;

    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF".to_vec();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let contents: Vec<Content> = vec![
        "Describe the report and the chart as JSON.".into(),
        ContentPart::pdf_bytes(pdf).into(),
        ContentPart::image_bytes(png, None).into(), // image/png, sniffed
    ];
    let opts = GenerateOptions {
        system_instruction: Some("You are a careful analyst.".into()),
        response_mime_type: Some("application/json".into()),
        max_output_tokens: Some(256),
        ..GenerateOptions::default()
    };
    let answer = client
        .generate_content("gemini-2.5-flash", contents.clone(), opts.clone())
        .await?;
    println!(
        "{} (key {}, {} tokens)",
        answer.content, answer.key_id, answer.usage.total_tokens
    );

    let mut stream = client
        .generate_content_stream("gemini-2.5-flash", contents, opts)
        .await?;
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.delta);
    }
    println!();
    for key in client.health().await.keys {
        println!("{}: {}", key.key_id, key.state);
    }
    Ok(())
}
