//! A tool loop whose second turn falls over to another vendor: the model (on OpenAI)
//! calls a tool, we run it, and the follow-up is served by Anthropic because the OpenAI
//! key fails; the history, tool call and result included, is translated on the way.
//!
//! `cargo run -p llm-rotate --example tool_loop`

use llm_rotate::{
    ChatMessage, ChatOptions, LMRotate, LMRotateConfig, ToolCall, ToolChoice, ToolSpec,
};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

/// The tool: the weather in a city.
fn run(call: &ToolCall) -> String {
    let city = call
        .arguments_json()
        .ok()
        .and_then(|args| args["city"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "nowhere".to_owned());
    format!("18 °C and sunny in {city}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // a fake upstream: OpenAI answers with a tool call, then fails; Anthropic serves
    let upstream = FakeUpstream::start().await?;
    upstream.script(
        "sk-test-oa",
        [
            Behavior::ToolCalls(vec![ToolCall::new(
                "call_1",
                "weather",
                r#"{"city":"Paris"}"#,
            )]),
            Behavior::ServerError(503),
        ],
    );
    upstream.set_default(
        "sk-test-an",
        Behavior::Reply("It is 18 °C and sunny in Paris.".into()),
    );
    let mut config = upstream.config(&[("oa", "openai"), ("an", "anthropic")], json!({}));
    config["fallback_chains"] = json!({"agent": [
        {"provider": "openai", "upstream": "gpt-4o"},
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
    ]});
    let client = LMRotate::new(LMRotateConfig::from_value(config)?)?;

    let weather = ToolSpec::new(
        "weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
    .description("Current weather in a city");
    let opts = ChatOptions::default()
        .tool(weather)
        .tool_choice(ToolChoice::Auto);

    let mut history = vec![ChatMessage::user("What's the weather in Paris?")];
    let reply = client.chat("agent", &history, opts.clone()).await?;
    println!(
        "{} asked for {} tool call(s)",
        reply.provider,
        reply.tool_calls.len()
    );
    history.push(reply.message());
    for call in &reply.tool_calls {
        history.push(ChatMessage::tool_result(&call.id, run(call)));
    }
    let reply = client.chat("agent", &history, opts).await?;
    println!("{} answered: {}", reply.provider, reply.content);
    Ok(())
}
