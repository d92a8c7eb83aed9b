//! Building an OpenAI Chat Completions request: URL, headers, body.

use bytes::Bytes;
use http::{HeaderName, Request};
use http_body_util::Full;
use rotate_core::error::ProviderError;
use rotate_core::provider::ProviderCall;
use serde_json::{json, Map, Value};

use super::OpenAiWire;
use crate::adapter::{base_url, json_request, secret_header};

/// Models that take `max_completion_tokens` instead of `max_tokens` on OpenAI and Azure.
fn is_reasoning_model(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model.starts_with(p))
}

/// The request body (typed fields first, then `extra` merged over them).
pub(crate) fn body(wire: &OpenAiWire, call: &ProviderCall, stream: bool) -> Map<String, Value> {
    let request = &call.request;
    let mut body = Map::new();
    body.insert("model".into(), Value::String(call.model.to_string()));
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if let Some(max_tokens) = request.max_tokens {
        let field = if request.extra.contains_key("max_completion_tokens")
            || (wire.reasoning_token_field && is_reasoning_model(&call.model))
        {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(field.into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
        if wire.stream_usage {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    body
}

/// The whole HTTP request.
pub(crate) fn build(
    wire: &OpenAiWire,
    call: &ProviderCall,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let base = base_url(call, wire.base_url.as_deref())?;
    let metadata = call.key.metadata();
    let uri = if wire.azure {
        let deployment = metadata
            .get("deployment")
            .map_or(&*call.model, String::as_str);
        let version = metadata.get("api_version").unwrap_or(&wire.api_version);
        format!("{base}/openai/deployments/{deployment}/chat/completions?api-version={version}")
    } else {
        format!("{base}/chat/completions")
    };
    let mut headers = wire.headers.clone();
    if wire.azure {
        headers.insert(
            HeaderName::from_static("api-key"),
            secret_header(call.key.secret().expose())?,
        );
    } else {
        let bearer = format!("Bearer {}", call.key.secret().expose());
        headers.insert(http::header::AUTHORIZATION, secret_header(&bearer)?);
    }
    for (field, header) in [
        ("organization", "openai-organization"),
        ("project", "openai-project"),
    ] {
        if let Some(value) = metadata.get(field) {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(header), value);
            }
        }
    }
    if stream {
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("text/event-stream"),
        );
    }
    let body = serde_json::to_vec(&Value::Object(body(wire, call, stream)))
        .map_err(|e| crate::adapter::malformed("request", e))?;
    json_request(&uri, headers, body)
}
