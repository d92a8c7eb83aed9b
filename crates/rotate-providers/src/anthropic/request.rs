//! Building an Anthropic Messages request: system messages lifted to the top-level
//! `system`, turns merged so roles alternate starting with `user`, `max_tokens` always set.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::Full;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::passthrough::Passthrough;
use rotate_core::provider::ProviderCall;
use serde_json::{json, Map, Value};

use super::{AnthropicWire, ANTHROPIC_VERSION};
use crate::errors::malformed;
use crate::request::{base_url, decimal, json_request, secret_header};

/// The request body (typed fields first, then `extra` merged over them).
pub(crate) fn body(
    wire: &AnthropicWire,
    call: &ProviderCall,
    stream: bool,
) -> Result<Map<String, Value>, ProviderError> {
    let request = &call.request;
    let (system, messages) = super::messages::turns(request, &call.provider);
    if messages.first().is_some_and(|m| m["role"] != "user") || messages.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            "an Anthropic conversation needs at least one message and must start with a user message",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(call.model.to_string()));
    body.insert(
        "max_tokens".into(),
        json!(request.max_tokens.unwrap_or(wire.default_max_tokens)),
    );
    if !system.is_empty() {
        body.insert("system".into(), Value::String(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    super::messages::options(request, &mut body);
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), decimal(temperature));
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    Ok(body)
}

/// The whole HTTP request.
pub(crate) fn build(
    wire: &AnthropicWire,
    call: &ProviderCall,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target(wire, call, stream, &[])?;
    let body = serde_json::to_vec(&Value::Object(body(wire, call, stream)?))
        .map_err(|e| malformed("request", e))?;
    json_request(&uri, headers, body)
}

/// The request of a call carrying the client's own body: as sent, with `model` set to
/// the upstream id and `stream` to the call's; the client's `anthropic-version` and
/// `anthropic-beta` go with it.
pub(crate) fn build_passthrough(
    wire: &AnthropicWire,
    call: &ProviderCall,
    pass: &Passthrough,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target(wire, call, stream, pass.headers())?;
    let model = ("model", Value::from(&*call.model));
    let body = if stream {
        pass.write_with(&[model, ("stream", Value::Bool(true))], &[])
    } else {
        pass.write_with(&[model], &["stream"])
    };
    json_request(&uri, headers, body)
}

/// The `anthropic_version` Claude on Vertex AI and on Bedrock's Messages form take in
/// the body (the key's `anthropic_version` metadata may name another).
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The body of a call as Claude on Vertex AI takes it: the Messages body without
/// `model` (the URL names it) and with `anthropic_version`; a client's own body is kept
/// as sent otherwise.
pub(crate) fn vertex_body(
    wire: &AnthropicWire,
    call: &ProviderCall,
    pass: Option<&Passthrough>,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    let version = Value::from(
        call.key
            .metadata()
            .get("anthropic_version")
            .map_or(VERTEX_ANTHROPIC_VERSION, String::as_str),
    );
    if let Some(pass) = pass {
        let version = ("anthropic_version", version);
        return Ok(if stream {
            pass.write_with(&[version, ("stream", Value::Bool(true))], &["model"])
        } else {
            pass.write_with(&[version], &["model", "stream"])
        });
    }
    let mut body = body(wire, call, stream)?;
    body.remove("model");
    body.insert("anthropic_version".into(), version);
    serde_json::to_vec(&Value::Object(body)).map_err(|e| malformed("request", e))
}

/// The headers of a call to Claude on Vertex AI: the provider's static ones,
/// `anthropic-beta` (the key's and the client's, from `forwarded`) and, for a stream,
/// `Accept`; the credentials are put on by the adapter's
/// [`Credentials`](crate::Credentials).
pub(crate) fn vertex_headers(
    wire: &AnthropicWire,
    call: &ProviderCall,
    stream: bool,
    forwarded: &[(String, String)],
) -> http::HeaderMap {
    let mut headers = wire.headers.clone();
    beta_and_accept(&mut headers, call, stream, forwarded);
    headers
}

/// The URL and headers of a call: the key's auth, `anthropic-version` (the client's,
/// the key's or the default) and `anthropic-beta` (the key's and the client's).
fn target(
    wire: &AnthropicWire,
    call: &ProviderCall,
    stream: bool,
    forwarded: &[(String, String)],
) -> Result<(String, http::HeaderMap), ProviderError> {
    let client = |name: &str| {
        forwarded
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let base = base_url(call, wire.base_url.as_deref())?;
    let mut headers = wire.headers.clone();
    headers.insert(
        HeaderName::from_static("x-api-key"),
        secret_header(call.key.secret().expose())?,
    );
    let metadata = call.key.metadata();
    let version = client("anthropic-version")
        .or(metadata.get("anthropic_version").map(String::as_str))
        .unwrap_or(ANTHROPIC_VERSION);
    if let Ok(version) = HeaderValue::from_str(version) {
        headers.insert(HeaderName::from_static("anthropic-version"), version);
    }
    beta_and_accept(&mut headers, call, stream, forwarded);
    Ok((format!("{base}/messages"), headers))
}

/// `anthropic-beta` (the key's `anthropic_beta` metadata, then the client's header)
/// and, for a stream, `Accept: text/event-stream`.
fn beta_and_accept(
    headers: &mut http::HeaderMap,
    call: &ProviderCall,
    stream: bool,
    forwarded: &[(String, String)],
) {
    let client = forwarded
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("anthropic-beta"))
        .map(|(_, v)| v.as_str());
    let betas: Vec<&str> = [
        call.key
            .metadata()
            .get("anthropic_beta")
            .map(String::as_str),
        client,
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Ok(beta) = HeaderValue::from_str(&betas.join(",")) {
        if !betas.is_empty() {
            headers.insert(HeaderName::from_static("anthropic-beta"), beta);
        }
    }
    if stream {
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
    }
}
