//! Gemini embeddings on AI Studio: `:batchEmbedContents` for the neutral request (one
//! `requests[]` entry per input, `outputDimensionality` from `dimensions`), or the
//! client's own `:embedContent` / `:batchEmbedContents` body as it came; the answer's
//! `embedding.values` or `embeddings[].values`.

use bytes::Bytes;
use rotate_core::embed::{EmbedRequest, ProviderEmbedding};
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::passthrough::WireDialect;
use rotate_core::provider::ProviderCall;
use rotate_providers::client::read_body;
use rotate_providers::errors::{malformed, scrub, with_vendor};
use rotate_providers::request::json_request;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Inner;
use crate::endpoint::{self, Method};
use crate::reply;

impl Inner {
    pub(super) async fn embed(
        &self,
        call: ProviderCall<EmbedRequest>,
    ) -> Result<ProviderEmbedding, ProviderError> {
        let credential = self.credential(&call.key)?;
        let (auth, _) = self.auth(&call.key, &credential).await?;
        let pass = call
            .request
            .passthrough
            .as_ref()
            .filter(|p| p.passes_to(Some(WireDialect::Gemini)));
        // the client's body says which method it is written for
        let (method, body) = match pass {
            Some(pass) if pass.contains("requests") => {
                (Method::BatchEmbed, pass.write_with(&[], &[]))
            }
            Some(pass) => (Method::Embed, pass.write_with(&[], &[])),
            None => {
                let body =
                    serde_json::to_vec(&batch_body(&call)).map_err(|e| malformed("request", e))?;
                (Method::BatchEmbed, body)
            }
        };
        let url = endpoint::studio_url(self.base(&call)?, &call.model, method)?;
        let mut headers = self.headers.clone();
        headers.extend(auth);
        let request = json_request(&url, headers, Bytes::from(body))?;
        let response = self.client.send(request, self.timeouts.request).await?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, self.timeouts.request).await?;
        if !parts.status.is_success() {
            let error = reply::classify(parts.status, &body, self.service, self.clock.unix_ms());
            let error = with_vendor(error, Some(WireDialect::Gemini), parts.status, &body);
            return Err(scrub(error, call.key.secret()));
        }
        let mut reply = parse(&body).map_err(|e| scrub(e, call.key.secret()))?;
        reply.passthrough = pass.is_some();
        Ok(reply)
    }
}

/// `{requests: [{model, content: {parts: [{text}]}, outputDimensionality}]}`.
fn batch_body(call: &ProviderCall<EmbedRequest>) -> Value {
    let model = format!(
        "models/{}",
        call.model.strip_prefix("models/").unwrap_or(&call.model)
    );
    let requests: Vec<Value> = call
        .request
        .inputs
        .iter()
        .map(|input| {
            let mut entry = json!({"model": model, "content": {"parts": [{"text": input}]}});
            if let Some(dimensions) = call.request.dimensions {
                entry["outputDimensionality"] = json!(dimensions);
            }
            for (key, value) in &call.request.extra {
                entry[key] = value.clone();
            }
            entry
        })
        .collect();
    json!({"requests": requests})
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    embedding: Option<Values>,
    #[serde(default)]
    embeddings: Option<Vec<Values>>,
}

/// Parses `{embedding: {values}}` or `{embeddings: [{values}]}`.
fn parse(body: &[u8]) -> Result<ProviderEmbedding, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("embeddings", e))?;
    let answer = Answer::deserialize(&raw).map_err(|e| malformed("embeddings", e))?;
    let embeddings: Vec<Vec<f32>> = match (answer.embedding, answer.embeddings) {
        (_, Some(list)) => list.into_iter().map(|v| v.values).collect(),
        (Some(one), None) => vec![one.values],
        (None, None) => {
            return Err(ProviderError::new(
                ErrorKind::Decode,
                "malformed embeddings: neither `embedding` nor `embeddings`",
            ))
        }
    };
    Ok(ProviderEmbedding {
        embeddings,
        raw,
        ..ProviderEmbedding::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many_vectors_read_and_bad_bodies_are_decode_errors() {
        let one = parse(br#"{"embedding": {"values": [0.5, 0.25]}}"#).unwrap();
        assert_eq!(one.embeddings, vec![vec![0.5, 0.25]]);
        let many = parse(br#"{"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}"#).unwrap();
        assert_eq!(many.embeddings, vec![vec![1.0], vec![2.0]]);
        for bad in [&b"{}"[..], b"[", br#"{"embedding": {"values": "x"}}"#] {
            assert_eq!(parse(bad).unwrap_err().kind, ErrorKind::Decode);
        }
    }
}
