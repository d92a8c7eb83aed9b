//! The fake embeddings endpoints: OpenAI's `POST …/embeddings` (`data[].embedding`
//! floats, or base64 little-endian `f32`s with `encoding_format: base64`;
//! `usage.prompt_tokens`) and Gemini's `:embedContent` (`embedding.values`) and
//! `:batchEmbedContents` (`embeddings[].values`). Each vector is [`vector_of`] its
//! text. A behaviour other than `Ok` or `Reply` answers as the chat endpoint would (the
//! vendors' error bodies are the same).

use base64::Engine as _;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::render::{json, Exchange, ReplyBody};
use super::{gemini, openai, Behavior};

/// The vector the fake gives `text`: `dimensions` values (4 when unset) that depend on
/// the text's length, so tests can tell inputs apart and check their order.
pub fn vector_of(text: &str, dimensions: Option<u64>) -> Vec<f32> {
    let n = dimensions.unwrap_or(4).clamp(1, 4096) as usize;
    (0..n)
        .map(|j| ((text.len() + j) % 7) as f32 / 8.0)
        .collect()
}

fn texts_of_input(input: Option<&Value>) -> Vec<String> {
    match input {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// `POST …/embeddings`.
pub(crate) fn openai(x: &Exchange<'_>, behavior: Behavior) -> Response<ReplyBody> {
    if !matches!(behavior, Behavior::Ok | Behavior::Reply(_)) {
        return openai::respond(x, behavior);
    }
    let texts = texts_of_input(x.body.get("input"));
    let dimensions = x.body.get("dimensions").and_then(Value::as_u64);
    let base64 = x.body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = vector_of(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: usize = texts.iter().map(|t| t.len().div_ceil(4).max(1)).sum();
    let body = json!({"object": "list", "data": data, "model": x.model(),
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
    json(
        StatusCode::OK,
        &body,
        &[("x-request-id", "req_testkit_embed".to_owned())],
    )
}

fn text_of_content(content: Option<&Value>) -> String {
    content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<String>()
        })
        .unwrap_or_default()
}

/// `:embedContent` (`batch` false) and `:batchEmbedContents`.
pub(crate) fn gemini(
    x: &Exchange<'_>,
    model: &str,
    behavior: Behavior,
    batch: bool,
) -> Response<ReplyBody> {
    if !matches!(behavior, Behavior::Ok | Behavior::Reply(_)) {
        return gemini::respond(x, model, behavior, gemini::Service::Studio);
    }
    let one = |request: &Value| {
        let dimensions = request.get("outputDimensionality").and_then(Value::as_u64);
        json!({"values": vector_of(&text_of_content(request.get("content")), dimensions)})
    };
    let body = if batch {
        let requests = x.body.get("requests").and_then(Value::as_array);
        let list: Vec<Value> = requests.into_iter().flatten().map(one).collect();
        json!({"embeddings": list})
    } else {
        json!({"embedding": one(x.body)})
    };
    json(StatusCode::OK, &body, &[])
}
