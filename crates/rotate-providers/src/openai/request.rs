//! Building an OpenAI Chat Completions request: URL, headers, body.

use bytes::Bytes;
use http::{HeaderName, Request};
use http_body_util::Full;
use rotate_core::error::ProviderError;
use rotate_core::passthrough::Passthrough;
use rotate_core::provider::ProviderCall;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use super::messages::{self, Messages};
use super::OpenAiWire;
use crate::errors::malformed;
use crate::request::{base_url, json_request, secret_header};
use crate::url::RequestUrl;

/// Models that take `max_completion_tokens` instead of `max_tokens` on OpenAI and Azure.
fn is_reasoning_model(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model.starts_with(p))
}

/// The request body: the typed fields (each skipped when `extra` gives the same key),
/// then every `extra` field. Serialized straight from the request, with no
/// intermediate JSON tree.
struct Body<'a> {
    call: &'a ProviderCall,
    stream: bool,
    stream_usage: bool,
    token_field: &'static str,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = &self.call.request;
        let extra = &request.extra;
        let mut map = serializer.serialize_map(None)?;
        let free = |key: &str| !extra.contains_key(key);
        if free("model") {
            map.serialize_entry("model", &*self.call.model)?;
        }
        if free("messages") {
            map.serialize_entry("messages", &Messages(&request.messages))?;
        }
        if !request.tools.is_empty() && free("tools") {
            map.serialize_entry("tools", &messages::tools(&request.tools))?;
        }
        if let Some(choice) = request.tool_choice.as_ref().filter(|_| free("tool_choice")) {
            map.serialize_entry("tool_choice", &messages::tool_choice(choice))?;
        }
        if let Some(parallel) = request
            .parallel_tool_calls
            .filter(|_| free("parallel_tool_calls") && !request.tools.is_empty())
        {
            map.serialize_entry("parallel_tool_calls", &parallel)?;
        }
        if let Some(format) = request
            .response_format
            .as_ref()
            .filter(|_| free("response_format"))
        {
            map.serialize_entry("response_format", &messages::response_format(format))?;
        }
        if let Some(effort) = request
            .reasoning_effort
            .as_ref()
            .filter(|_| free("reasoning_effort"))
        {
            map.serialize_entry("reasoning_effort", effort)?;
        }
        if let Some(max_tokens) = request.max_tokens.filter(|_| free(self.token_field)) {
            map.serialize_entry(self.token_field, &max_tokens)?;
        }
        if let Some(temperature) = request.temperature.filter(|_| free("temperature")) {
            map.serialize_entry("temperature", &temperature)?;
        }
        if self.stream {
            map.serialize_entry("stream", &true)?;
            if self.stream_usage && free("stream_options") {
                map.serialize_entry("stream_options", &json!({"include_usage": true}))?;
            }
        }
        for (key, value) in extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The whole HTTP request.
pub(crate) fn build(
    wire: &OpenAiWire,
    call: &ProviderCall,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target(wire, call, stream)?;
    let token_field = if call.request.extra.contains_key("max_completion_tokens")
        || (wire.reasoning_token_field && is_reasoning_model(&call.model))
    {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    let body = serde_json::to_vec(&Body {
        call,
        stream,
        stream_usage: wire.stream_usage,
        token_field,
    })
    .map_err(|e| malformed("request", e))?;
    json_request(&uri, headers, body)
}

/// The request of a call carrying the client's own body: as sent, with `model` set to
/// the upstream id and, on a stream, `stream: true` and usage asked for (see
/// [`hides_usage`]).
pub(crate) fn build_passthrough(
    wire: &OpenAiWire,
    call: &ProviderCall,
    pass: &Passthrough,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target(wire, call, stream)?;
    let model = ("model", Value::from(&*call.model));
    let body = if !stream {
        pass.write_with(&[model], &["stream", "stream_options"])
    } else if hides_usage(wire, pass) {
        let mut options = match pass.get("stream_options") {
            Some(Value::Object(options)) => options,
            _ => Map::new(),
        };
        options.insert("include_usage".to_owned(), Value::Bool(true));
        let options = ("stream_options", Value::Object(options));
        pass.write_with(&[model, ("stream", Value::Bool(true)), options], &[])
    } else {
        pass.write_with(&[model, ("stream", Value::Bool(true))], &[])
    };
    json_request(&uri, headers, body)
}

/// True when a passthrough stream asks for usage the client did not ask for, so its
/// usage chunk is read for accounting and kept from the client.
pub(crate) fn hides_usage(wire: &OpenAiWire, pass: &Passthrough) -> bool {
    let asked = pass
        .get("stream_options")
        .and_then(|o| o.get("include_usage").cloned())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    wire.stream_usage && !asked
}

/// The URL and headers (auth included) of a call.
fn target(
    wire: &OpenAiWire,
    call: &ProviderCall,
    stream: bool,
) -> Result<(String, http::HeaderMap), ProviderError> {
    target_of(wire, call, "chat/completions", "deployment", stream)
}

/// True for a base URL of Azure's v1 API (`https://{resource}.openai.azure.com/openai/v1`,
/// Azure AI Foundry's `https://{resource}.services.ai.azure.com/openai/v1`).
pub(crate) fn is_azure_v1(base: &str) -> bool {
    base.trim_end_matches('/').ends_with("/openai/v1")
}

/// The URL and headers of a call to `endpoint` (`chat/completions`, `embeddings`); on
/// Azure's deployment form the deployment is the key's `deployment_field` metadata,
/// else the model; Azure keys authenticate with `api-key`, or with a bearer Entra ID
/// token when their `metadata.auth` is `entra`.
pub(crate) fn target_of<R>(
    wire: &OpenAiWire,
    call: &ProviderCall<R>,
    endpoint: &str,
    deployment_field: &str,
    stream: bool,
) -> Result<(String, http::HeaderMap), ProviderError> {
    let metadata = call.key.metadata();
    let chat_url = wire
        .chat_url
        .as_deref()
        .filter(|_| endpoint == "chat/completions");
    let uri = if let (false, None, Some(url)) = (wire.azure, call.key.base_url(), chat_url) {
        url.to_owned()
    } else if wire.azure {
        let base = base_url(call, wire.base_url.as_deref())?;
        if is_azure_v1(base) {
            // Azure's v1 API: OpenAI's paths under `/openai/v1`, the deployment named by
            // the body's `model`, an `api-version` only when one is set
            let url = RequestUrl::new(base).path(endpoint);
            match metadata.get("api_version").or(wire.v1_api_version.as_ref()) {
                Some(version) if version != "v1" => url.query("api-version", version).finish(),
                _ => url.finish(),
            }
        } else {
            let deployment = metadata
                .get(deployment_field)
                .map_or(&*call.model, String::as_str);
            let version = metadata.get("api_version").unwrap_or(&wire.api_version);
            RequestUrl::new(base)
                .path("openai/deployments")
                .segment("deployment", deployment)?
                .path(endpoint)
                .query("api-version", version)
                .finish()
        }
    } else {
        format!("{}/{endpoint}", base_url(call, wire.base_url.as_deref())?)
    };
    let mut headers = wire.headers.clone();
    let entra = metadata.get("auth").map(String::as_str) == Some("entra");
    if wire.azure && super::entra::is_principal(&call.key) {
        // the adapter's Entra credentials put the principal's token on
    } else if wire.azure && !entra {
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
    Ok((uri, headers))
}
