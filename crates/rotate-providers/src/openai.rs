//! The OpenAI Chat Completions protocol, spoken by OpenAI and every OpenAI-compatible
//! vendor of the catalogue (Groq, Mistral, DeepSeek, Together, OpenRouter, xAI,
//! Fireworks, Cerebras, Perplexity, local servers) and by Azure OpenAI, in its
//! deployment form (`/openai/deployments/{d}/…?api-version=…`) or its v1 API (a base
//! URL ending in `/openai/v1`, Azure AI Foundry's included).

mod embeddings;
pub(crate) mod entra;
mod messages;
mod request;
mod response;
mod responses;
mod stream;

use http::{HeaderMap, Request, StatusCode};
use rotate_core::config::ProviderConfig;
use rotate_core::embed::{EmbedRequest, ProviderEmbedding};
use rotate_core::error::{ConfigurationError, ProviderError};
use rotate_core::passthrough::{Passthrough, WireDialect};
use rotate_core::provider::{Headroom, ProviderCall, ProviderReply};

pub use stream::OpenAiStream;

use crate::adapter::WireProtocol;
use crate::request::static_headers;

/// The Azure `api-version` used when neither the key nor the provider names one.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// The OpenAI protocol as one provider speaks it.
#[derive(Debug, Clone)]
pub struct OpenAiWire {
    base_url: Option<String>,
    chat_url: Option<String>,
    headers: HeaderMap,
    azure: bool,
    api_version: String,
    /// The `api-version` set in config, sent on Azure's v1 API only when given.
    v1_api_version: Option<String>,
    stream_usage: bool,
    reasoning_token_field: bool,
    /// OpenAI and Azure have the Responses API; the compatible vendors are not assumed to.
    responses: bool,
}

impl OpenAiWire {
    /// The protocol for provider `name` with settings `config`. Azure's deployment form
    /// is used for `azure_openai` and any provider that sets `api_version`.
    pub fn new(name: &str, config: &ProviderConfig) -> Result<Self, ConfigurationError> {
        let azure = name == "azure_openai" || config.api_version.is_some();
        Ok(Self {
            base_url: config.base_url.clone(),
            chat_url: config
                .base_url
                .as_deref()
                .map(|base| format!("{}/chat/completions", base.trim_end_matches('/'))),
            headers: static_headers(name, config)?,
            azure,
            api_version: config
                .api_version
                .clone()
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()),
            v1_api_version: config.api_version.clone(),
            stream_usage: config.stream_usage.unwrap_or(true),
            reasoning_token_field: name == "openai" || azure,
            responses: name == "openai" || azure,
        })
    }
}

impl OpenAiWire {
    /// True for Azure OpenAI (deployment form or v1 API).
    pub fn is_azure(&self) -> bool {
        self.azure
    }
}

impl WireProtocol for OpenAiWire {
    type Stream = OpenAiStream;

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

    /// Azure's URL holds the deployment (the model, unless the key names one) as one
    /// path segment.
    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        if self.azure {
            crate::url::check_segment("deployment", model)?;
        }
        Ok(())
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

    fn headroom(&self, headers: &HeaderMap, _now_unix_ms: u64) -> Option<Headroom> {
        crate::ratelimit::openai_headroom(headers)
    }

    fn stream_protocol(&self) -> OpenAiStream {
        OpenAiStream::default()
    }

    fn dialect(&self) -> Option<WireDialect> {
        Some(WireDialect::OpenAiChat)
    }

    fn accepts(&self, dialect: WireDialect) -> bool {
        match dialect {
            WireDialect::OpenAiChat => true,
            WireDialect::OpenAiResponses => self.responses,
            _ => false,
        }
    }

    fn build_passthrough(
        &self,
        call: &ProviderCall,
        body: &Passthrough,
        stream: bool,
    ) -> Result<Request<http_body_util::Full<bytes::Bytes>>, ProviderError> {
        if body.dialect() == WireDialect::OpenAiResponses {
            return responses::build(self, call, body, stream);
        }
        request::build_passthrough(self, call, body, stream)
    }

    fn parse_passthrough_reply(
        &self,
        body: &Passthrough,
        reply: &[u8],
    ) -> Result<ProviderReply, ProviderError> {
        if body.dialect() == WireDialect::OpenAiResponses {
            return responses::parse(reply);
        }
        response::parse(reply)
    }

    fn speaks_embeddings(&self) -> bool {
        true
    }

    fn build_embed(
        &self,
        call: &ProviderCall<EmbedRequest>,
        body: Option<&Passthrough>,
    ) -> Result<Request<http_body_util::Full<bytes::Bytes>>, ProviderError> {
        embeddings::build(self, call, body)
    }

    fn parse_embed(&self, body: &[u8]) -> Result<ProviderEmbedding, ProviderError> {
        embeddings::parse(body)
    }

    fn passthrough_stream(&self, body: &Passthrough) -> OpenAiStream {
        if body.dialect() == WireDialect::OpenAiResponses {
            return OpenAiStream::responses();
        }
        OpenAiStream::hiding_usage(request::hides_usage(self, body))
    }
}
