//! The Anthropic Messages protocol.

mod messages;
mod request;
mod response;
mod stream;

use http::{HeaderMap, Request, StatusCode};
use rotate_core::config::ProviderConfig;
use rotate_core::error::{ConfigurationError, ProviderError};
use rotate_core::passthrough::{Passthrough, WireDialect};
use rotate_core::provider::{Headroom, ProviderCall, ProviderReply};

pub use request::VERTEX_ANTHROPIC_VERSION;
pub use stream::AnthropicStream;

use crate::adapter::WireProtocol;
use crate::request::static_headers;

/// The `anthropic-version` header sent unless the key's metadata names another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` when neither the call nor the provider gives one (the API requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Anthropic protocol as one provider speaks it.
#[derive(Debug, Clone)]
pub struct AnthropicWire {
    base_url: Option<String>,
    headers: HeaderMap,
    default_max_tokens: u32,
}

impl AnthropicWire {
    /// The protocol for provider `name` with settings `config`.
    pub fn new(name: &str, config: &ProviderConfig) -> Result<Self, ConfigurationError> {
        Ok(Self {
            base_url: config.base_url.clone(),
            headers: static_headers(name, config)?,
            default_max_tokens: config.default_max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        })
    }
}

impl AnthropicWire {
    /// The request of a call to Claude on Vertex AI at `url` (its `…:rawPredict` or
    /// `…:streamRawPredict`): the Messages body without `model` and with
    /// `anthropic_version` (the client's own Anthropic body `pass`, when given, kept as
    /// sent otherwise), no credentials (the adapter's
    /// [`Credentials`](crate::Credentials) add them).
    pub fn vertex_request(
        &self,
        call: &ProviderCall,
        pass: Option<&Passthrough>,
        url: &str,
        stream: bool,
    ) -> Result<Request<http_body_util::Full<bytes::Bytes>>, ProviderError> {
        let forwarded = pass.map_or(&[][..], Passthrough::headers);
        crate::request::json_request(
            url,
            request::vertex_headers(self, call, stream, forwarded),
            request::vertex_body(self, call, pass, stream)?,
        )
    }
}

impl WireProtocol for AnthropicWire {
    type Stream = AnthropicStream;

    fn build(
        &self,
        call: &ProviderCall,
        stream: bool,
    ) -> Result<Request<http_body_util::Full<bytes::Bytes>>, ProviderError> {
        request::build(self, call, stream)
    }

    fn parse_reply(&self, body: &[u8]) -> Result<ProviderReply, ProviderError> {
        response::parse(body)
    }

    fn cannot_carry(&self, request: &rotate_core::message::ChatRequest) -> Option<String> {
        messages::cannot_carry(request)
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now_unix_ms: u64,
    ) -> ProviderError {
        response::classify(status, headers, body, now_unix_ms)
    }

    fn headroom(&self, headers: &HeaderMap, now_unix_ms: u64) -> Option<Headroom> {
        crate::ratelimit::anthropic_headroom(headers, now_unix_ms)
    }

    fn stream_protocol(&self) -> AnthropicStream {
        AnthropicStream::default()
    }

    fn dialect(&self) -> Option<WireDialect> {
        Some(WireDialect::Anthropic)
    }

    fn build_passthrough(
        &self,
        call: &ProviderCall,
        body: &Passthrough,
        stream: bool,
    ) -> Result<Request<http_body_util::Full<bytes::Bytes>>, ProviderError> {
        request::build_passthrough(self, call, body, stream)
    }
}
