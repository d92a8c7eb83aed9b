//! OpenAI's embeddings API (`POST …/embeddings`, Azure's deployment form too): the
//! request (`model`, `input` list, `dimensions`, extra fields; or the client's own body)
//! and the answer (`data[].embedding`, as floats or base64 little-endian `f32`s, in
//! `index` order; `usage.prompt_tokens`).

use base64::Engine as _;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::embed::{EmbedRequest, ProviderEmbedding};
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::passthrough::Passthrough;
use rotate_core::provider::ProviderCall;
use rotate_core::response::Usage;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::request::target_of;
use super::OpenAiWire;
use crate::errors::malformed;
use crate::request::json_request;

/// The HTTP request of an embedding call.
pub(crate) fn build(
    wire: &OpenAiWire,
    call: &ProviderCall<EmbedRequest>,
    pass: Option<&Passthrough>,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target_of(wire, call, "embeddings", "embedding_deployment", false)?;
    if let Some(pass) = pass {
        let body = pass.write_with(&[("model", Value::from(&*call.model))], &[]);
        return json_request(&uri, headers, body);
    }
    let request = &call.request;
    let mut body = Map::new();
    body.insert("model".to_owned(), Value::from(&*call.model));
    body.insert("input".to_owned(), Value::from(request.inputs.clone()));
    if let Some(dimensions) = request.dimensions {
        body.insert("dimensions".to_owned(), Value::from(dimensions));
    }
    body.extend(request.extra.clone());
    let body = serde_json::to_vec(&body).map_err(|e| malformed("request", e))?;
    json_request(&uri, headers, body)
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<UsageBlock>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: usize,
    embedding: Vector,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Deserialize)]
struct UsageBlock {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

/// Parses a successful answer.
pub(crate) fn parse(body: &[u8]) -> Result<ProviderEmbedding, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("embeddings", e))?;
    let answer = Answer::deserialize(&raw).map_err(|e| malformed("embeddings", e))?;
    let mut items = answer.data;
    items.sort_by_key(|item| item.index);
    let embeddings = items
        .into_iter()
        .map(|item| match item.embedding {
            Vector::Floats(values) => Ok(values),
            Vector::Base64(text) => floats_of(&text),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let usage = answer.usage.map_or_else(Usage::default, |u| Usage {
        prompt_tokens: u.prompt_tokens,
        total_tokens: u.total_tokens.max(u.prompt_tokens),
        ..Usage::default()
    });
    Ok(ProviderEmbedding {
        embeddings,
        model: answer.model,
        usage,
        raw,
        headroom: None,
        passthrough: false,
    })
}

/// `encoding_format: base64`: little-endian `f32`s.
fn floats_of(text: &str) -> Result<Vec<f32>, ProviderError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| malformed("base64 embedding", e))?;
    if bytes.len() % 4 != 0 {
        return Err(ProviderError::new(
            ErrorKind::Decode,
            "malformed base64 embedding: not a whole number of f32s",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vectors_come_back_in_index_order_as_floats_or_base64() {
        let half = base64::engine::general_purpose::STANDARD.encode(
            [0.5f32, -1.0]
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        let body = json!({"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 1, "embedding": half},
                     {"object": "embedding", "index": 0, "embedding": [0.25, 0.75]}],
            "usage": {"prompt_tokens": 7, "total_tokens": 7}});
        let reply = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(reply.embeddings, vec![vec![0.25, 0.75], vec![0.5, -1.0]]);
        assert_eq!(reply.usage.prompt_tokens, 7);
        assert_eq!(reply.model, "text-embedding-3-small");
        for bad in [
            &b"{"[..],
            br#"{"data": 3}"#,
            br#"{"data": [{"embedding": "%%"}]}"#,
            br#"{"data": [{"embedding": "AAA="}]}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().kind, ErrorKind::Decode);
        }
    }
}
