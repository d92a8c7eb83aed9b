//! Building a request: the base URL a call goes to, static and secret headers, the JSON
//! request itself, and `f32` options written as the decimals they read as.

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::Full;
use rotate_core::config::ProviderConfig;
use rotate_core::error::{ConfigurationError, ErrorKind, ProviderError};
use rotate_core::provider::ProviderCall;

/// The base URL a call goes to: the key's own, else the provider's.
pub fn base_url<'a, R>(
    call: &'a ProviderCall<R>,
    provider_base: Option<&'a str>,
) -> Result<&'a str, ProviderError> {
    call.key
        .base_url()
        .or(provider_base)
        .map(|u| u.trim_end_matches('/'))
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Configuration,
                format!(
                    "provider `{}` has no base_url (set it on the provider or the key)",
                    call.provider
                ),
            )
        })
}

/// Static headers from config, checked once.
pub fn static_headers(
    name: &str,
    config: &ProviderConfig,
) -> Result<HeaderMap, ConfigurationError> {
    let mut headers = HeaderMap::new();
    for (key, value) in &config.headers {
        let path = format!("providers.{name}.headers.{key}");
        let header_name = http::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| ConfigurationError::new(path.clone(), "not a valid header name"))?;
        let mut header_value = http::HeaderValue::from_str(value)
            .map_err(|_| ConfigurationError::new(path, "not a valid header value"))?;
        header_value.set_sensitive(true);
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

/// A header value holding a secret (marked sensitive so it never prints).
pub fn secret_header(value: &str) -> Result<http::HeaderValue, ProviderError> {
    let mut header = http::HeaderValue::from_str(value).map_err(|_| {
        ProviderError::new(
            ErrorKind::Configuration,
            "the key holds characters not allowed in a header",
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// A JSON request with the given method, URL, headers and body.
pub fn json_request(
    uri: &str,
    headers: HeaderMap,
    body: impl Into<Bytes>,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let mut builder = Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
    if let Some(h) = builder.headers_mut() {
        h.extend(headers);
    }
    builder.body(Full::new(body.into())).map_err(|e| {
        ProviderError::new(ErrorKind::Configuration, "cannot build the request").with_source(e)
    })
}

/// An `f32` option as the JSON number it reads as (`0.2`, not `0.20000000298023224`).
pub fn decimal(value: f32) -> serde_json::Value {
    value
        .to_string()
        .parse::<f64>()
        .map_or(serde_json::Value::Null, serde_json::Value::from)
}
