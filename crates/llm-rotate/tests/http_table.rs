//! One conversation holding a part of every kind the three dialects share (system text,
//! text, image bytes and URL, a PDF, an assistant turn with text and two tool calls, two
//! tool results, a tool spec, a tool choice and a response format), sent to OpenAI,
//! Anthropic and Gemini in turn: each test compares the whole body the fake upstream
//! received with the row-by-row translation the conversation spec gives.
#![cfg(feature = "google")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{
    ChatMessage, ChatOptions, ContentPart, LMRotate, LMRotateConfig, ResponseFormat, Role,
    ToolCall, ToolChoice, ToolOutput, ToolSpec,
};
use rotate_testkit::FakeUpstream;
use serde_json::{json, Value};

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("Answer in one word."),
        ChatMessage::new(
            Role::User,
            vec![
                ContentPart::text("Compare these, then check the weather."),
                ContentPart::image_bytes(b"\x89PNG\r\n\x1a\n".to_vec(), None),
                ContentPart::image_url("https://example.com/cat.jpg"),
                ContentPart::pdf_bytes(b"%PDF-1.7".to_vec()),
            ],
        ),
        ChatMessage::new(
            Role::Assistant,
            vec![
                ContentPart::text("Checking both cities."),
                ContentPart::tool_call(ToolCall::new("call_a", "weather", r#"{"city":"Oslo"}"#)),
                ContentPart::tool_call(ToolCall::new("call_b", "weather", r#"{"city":"Rome"}"#)),
            ],
        ),
        ChatMessage::tool_result("call_a", r#"{"celsius":-3}"#),
        ChatMessage::tool_result("call_b", ToolOutput::error("no data for Rome")),
        ChatMessage::user("And now?"),
    ]
}

fn options(provider: &str) -> ChatOptions {
    ChatOptions::default()
        .provider(provider)
        .tool(
            ToolSpec::new(
                "weather",
                json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            )
            .description("Current weather"),
        )
        .tool_choice(ToolChoice::Required)
        .parallel_tool_calls(false)
        .response_format(ResponseFormat::JsonSchema {
            name: "word".into(),
            schema: json!({"type": "object"}),
            strict: None,
        })
        .max_tokens(64)
}

async fn body_sent(model: &str, provider: &str) -> Value {
    let upstream = FakeUpstream::start().await.unwrap();
    let config = upstream.config(
        &[("oa", "openai"), ("an", "anthropic"), ("gm", "google")],
        json!({"max_retries": 0}),
    );
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    client
        .chat(model, &conversation(), options(provider))
        .await
        .unwrap();
    let mut requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    requests.remove(0).body
}

const PNG: &str = "iVBORw0KGgo=";
const PDF: &str = "JVBERi0xLjc=";

fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}})
}

#[tokio::test]
async fn openai_receives_every_row_in_its_form() {
    let body = body_sent("gpt-4o", "openai").await;
    let expected = json!({
        "model": "gpt-4o",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": [
                {"type": "text", "text": "Compare these, then check the weather."},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {"type": "file", "file": {"file_data": format!("data:application/pdf;base64,{PDF}"), "filename": "document.pdf"}}
            ]},
            {"role": "assistant", "content": "Checking both cities.", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "{\"celsius\":-3}"},
            {"role": "tool", "tool_call_id": "call_b", "content": "no data for Rome"},
            {"role": "user", "content": "And now?"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Current weather", "parameters": weather_schema()}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "response_format": {"type": "json_schema", "json_schema": {"name": "word", "schema": {"type": "object"}}}
    });
    assert_eq!(body, expected);
}

#[tokio::test]
async fn anthropic_receives_every_row_in_its_form() {
    let body = body_sent("claude-sonnet-4-5", "anthropic").await;
    let expected = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": "Answer in one word.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Compare these, then check the weather."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking both cities."},
                {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "call_b", "name": "weather", "input": {"city": "Rome"}}
            ]},
            // consecutive results merge into one user turn, which the next text joins
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": [{"type": "text", "text": "{\"celsius\":-3}"}]},
                {"type": "tool_result", "tool_use_id": "call_b", "is_error": true, "content": [{"type": "text", "text": "no data for Rome"}]},
                {"type": "text", "text": "And now?"}
            ]}
        ],
        "tools": [{"name": "weather", "description": "Current weather", "input_schema": weather_schema()}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    });
    assert_eq!(body, expected);
}

#[tokio::test]
async fn gemini_receives_every_row_in_its_form() {
    let body = body_sent("gemini-2.5-flash", "google").await;
    let expected = json!({
        "systemInstruction": {"parts": [{"text": "Answer in one word."}]},
        "contents": [
            {"role": "user", "parts": [
                {"text": "Compare these, then check the weather."},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                // the type of a URL's image is guessed from its extension
                {"fileData": {"fileUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}},
                {"inlineData": {"mimeType": "application/pdf", "data": PDF}}
            ]},
            {"role": "model", "parts": [
                {"text": "Checking both cities."},
                // calls Gemini did not sign carry the documented placeholder on the first call
                {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Oslo"}},
                 "thoughtSignature": "skip_thought_signature_validator"},
                {"functionCall": {"id": "call_b", "name": "weather", "args": {"city": "Rome"}}}
            ]},
            {"role": "user", "parts": [
                // names come from the matching calls; a JSON object result is sent as the
                // object, a failure as {"error": …}
                {"functionResponse": {"id": "call_a", "name": "weather", "response": {"celsius": -3}}},
                {"functionResponse": {"id": "call_b", "name": "weather", "response": {"error": "no data for Rome"}}},
                {"text": "And now?"}
            ]}
        ],
        "generationConfig": {
            "maxOutputTokens": 64,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"}
        },
        "tools": [{"functionDeclarations": [
            {"name": "weather", "description": "Current weather", "parametersJsonSchema": weather_schema()}
        ]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}
    });
    assert_eq!(body, expected);
}
