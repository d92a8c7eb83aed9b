//! Property tests of every route's body reader: arbitrary bytes, and valid requests with
//! any one value swapped for any JSON, are read or refused with a 4xx that says why,
//! never a panic. The OpenAI chat reader has its own beside it.

use proptest::prelude::*;
use rotate_testkit::arbitrary::any_json;
use serde_json::{json, Value};

use super::http::ApiError;
use super::{anthropic, embeddings, gemini, openai, responses};

/// A body reader, its result dropped.
type Reader = fn(&[u8]) -> Result<(), ApiError>;

/// Every reader, by name, as a function of the body.
fn readers() -> Vec<(&'static str, Reader)> {
    vec![
        ("openai chat", |b| openai::parse(b).map(drop)),
        ("anthropic messages", |b| anthropic::parse(b).map(drop)),
        ("gemini generate", |b| gemini::parse(b).map(drop)),
        ("gemini count", |b| gemini::parse_count(b).map(drop)),
        ("openai embeddings", |b| {
            embeddings::parse_openai(b).map(drop)
        }),
        ("gemini embed", |b| {
            embeddings::parse_gemini(b, false).map(drop)
        }),
        ("gemini batch embed", |b| {
            embeddings::parse_gemini(b, true).map(drop)
        }),
        ("openai responses", |b| responses::parse(b).map(drop)),
    ]
}

/// A valid body of each reader, and the places in it a value can be swapped.
fn valid(reader: usize) -> (Value, &'static [&'static str]) {
    match reader {
        0 => (
            json!({"model": "gpt-4o", "n": 2, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                   "tool_choice": "auto", "response_format": {"type": "json_object"},
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}, {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]},
                                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                                {"role": "tool", "tool_call_id": "c", "content": "ok"}]}),
            &[
                "/model",
                "/n",
                "/tools",
                "/tools/0",
                "/tools/0/function",
                "/tool_choice",
                "/response_format",
                "/messages/0/content/1",
                "/messages/0/content/2/input_audio",
                "/messages/1/tool_calls",
                "/messages/2/tool_call_id",
                "/messages/2",
            ],
        ),
        1 => (
            json!({"model": "claude", "max_tokens": 9, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
                   "thinking": {"type": "enabled", "budget_tokens": 1024}, "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                   "tool_choice": {"type": "any"},
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
                                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}),
            &[
                "/model",
                "/max_tokens",
                "/system",
                "/system/0",
                "/thinking",
                "/tools",
                "/tools/0/input_schema",
                "/tool_choice",
                "/messages/0/content/1/source",
                "/messages/1/content/0",
                "/messages/1/content/1/input",
                "/messages/2/content/0/tool_use_id",
            ],
        ),
        2 | 3 => (
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
                                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}]},
                                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"ok": true}}}]}],
                   "systemInstruction": {"parts": [{"text": "s"}]}, "generationConfig": {"maxOutputTokens": 5, "temperature": 0.1}}),
            &[
                "/contents",
                "/contents/0/parts",
                "/contents/0/parts/1/inlineData",
                "/contents/1/role",
                "/contents/1/parts/0/functionCall",
                "/contents/2/parts/0/functionResponse",
                "/systemInstruction",
                "/generationConfig",
                "/generationConfig/maxOutputTokens",
            ],
        ),
        4 => (
            json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8, "encoding_format": "float"}),
            &[
                "/model",
                "/input",
                "/input/0",
                "/dimensions",
                "/encoding_format",
            ],
        ),
        5 => (
            json!({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3}),
            &[
                "/content",
                "/content/parts",
                "/content/parts/0",
                "/outputDimensionality",
            ],
        ),
        7 => (
            json!({"model": "gpt-5", "instructions": "i", "stream": true, "max_output_tokens": 9,
                   "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "https://x/y.png"}]},
                             {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                             {"type": "function_call_output", "call_id": "c", "output": "ok"}],
                   "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": "auto",
                   "text": {"format": {"type": "json_object"}}}),
            &[
                "/model",
                "/instructions",
                "/input",
                "/input/0",
                "/input/0/content/1",
                "/input/1",
                "/input/1/arguments",
                "/input/2/output",
                "/tools/0",
                "/tool_choice",
                "/text/format",
                "/max_output_tokens",
            ],
        ),
        _ => (
            json!({"requests": [{"model": "models/e", "content": {"parts": [{"text": "a"}]}}]}),
            &[
                "/requests",
                "/requests/0",
                "/requests/0/content",
                "/requests/0/content/parts/0/text",
            ],
        ),
    }
}

fn mutated(reader: usize, slot: usize, replacement: Value) -> Vec<u8> {
    let (mut body, pointers) = valid(reader);
    if let Some(target) = body.pointer_mut(pointers[slot % pointers.len()]) {
        *target = replacement;
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

fn refused_well(error: &ApiError) -> bool {
    error.status.is_client_error() && !error.message.is_empty()
}

#[test]
fn every_valid_body_reads() {
    for (i, (name, read)) in readers().into_iter().enumerate() {
        let (body, _) = valid(i);
        assert!(read(body.to_string().as_bytes()).is_ok(), "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

    /// Arbitrary bytes to every reader: read, or a 4xx that names the problem.
    #[test]
    fn arbitrary_bytes_never_panic(reader in 0usize..8, bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (_, read) = readers()[reader];
        if let Err(error) = read(&bytes) {
            prop_assert!(refused_well(&error));
        }
    }

    /// A valid body with any value swapped for any JSON: read, or a 4xx.
    #[test]
    fn mutated_bodies_never_panic(reader in 0usize..8, slot in 0usize..12, replacement in any_json()) {
        let (_, read) = readers()[reader];
        if let Err(error) = read(&mutated(reader, slot, replacement)) {
            prop_assert!(refused_well(&error));
        }
    }
}
