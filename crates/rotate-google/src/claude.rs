//! Claude on Vertex AI (`api: vertex_anthropic`): Anthropic's Messages protocol on
//! `…/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`
//! (`:streamRawPredict` for streams), the body without `model` and with
//! `anthropic_version: vertex-2023-10-16`, authenticated like Gemini on Vertex: a
//! service account's bearer token, fetched, cached per key and renewed once after a
//! 401 (a key whose value is not JSON is taken as an access token, sent as it is).
//!
//! Everything else is Anthropic's: the answer, the SSE stream, reasoning signatures and
//! the error bodies. Errors Vertex raises itself (quota, permissions) come as
//! google.rpc bodies and are classified as Vertex's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use rotate_core::clock::Clock;
use rotate_core::error::ProviderError;
use rotate_core::message::ChatRequest;
use rotate_core::passthrough::{Passthrough, WireDialect};
use rotate_core::provider::{BoxFuture, Headroom, KeyInfo, ProviderCall, ProviderReply};
use rotate_providers::adapter::WireProtocol;
use rotate_providers::client::HttpClient;
use rotate_providers::credentials::set_bearer;
use rotate_providers::{AnthropicStream, AnthropicWire, Credentials};

use crate::accounts::Accounts;
use crate::endpoint;
use crate::reply::{self, Service};

/// The Messages protocol as Claude on Vertex AI speaks it.
#[derive(Debug)]
pub struct VertexClaudeWire {
    anthropic: AnthropicWire,
    base_url: Option<String>,
    accounts: Arc<Accounts>,
}

impl VertexClaudeWire {
    /// The protocol over `anthropic` (the provider's Messages settings), at
    /// `base_url` (a template with `{location}`), finding projects in `accounts`.
    pub fn new(
        anthropic: AnthropicWire,
        base_url: Option<String>,
        accounts: Arc<Accounts>,
    ) -> Self {
        Self {
            anthropic,
            base_url,
            accounts,
        }
    }

    fn url(&self, call: &ProviderCall, stream: bool) -> Result<String, ProviderError> {
        let base = rotate_providers::request::base_url(call, self.base_url.as_deref())?;
        let source = self.accounts.source(&call.key)?;
        let account = source.as_ref().map(|s| s.account());
        let verb = if stream {
            ":streamRawPredict"
        } else {
            ":rawPredict"
        };
        Ok(
            endpoint::vertex_models(base, &call.key, account, "anthropic")?
                .segment_with_method("model", &call.model, verb)?
                .finish(),
        )
    }
}

impl WireProtocol for VertexClaudeWire {
    type Stream = AnthropicStream;

    fn build(
        &self,
        call: &ProviderCall,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError> {
        self.anthropic
            .vertex_request(call, None, &self.url(call, stream)?, stream)
    }

    fn parse_reply(&self, body: &[u8]) -> Result<ProviderReply, ProviderError> {
        self.anthropic.parse_reply(body)
    }

    /// Vertex's own refusals (quota, permissions, unknown project) are google.rpc
    /// bodies; Claude's are Anthropic's.
    fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now_unix_ms: u64,
    ) -> ProviderError {
        let rpc = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|v| v.pointer("/error/status").is_some_and(|s| s.is_string()));
        if rpc {
            return reply::classify(status, body, Service::Vertex, now_unix_ms);
        }
        self.anthropic.classify(status, headers, body, now_unix_ms)
    }

    fn headroom(&self, headers: &HeaderMap, now_unix_ms: u64) -> Option<Headroom> {
        self.anthropic.headroom(headers, now_unix_ms)
    }

    fn stream_protocol(&self) -> AnthropicStream {
        AnthropicStream::default()
    }

    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        rotate_providers::url::check_segment("model", model)
    }

    fn cannot_carry(&self, request: &ChatRequest) -> Option<String> {
        self.anthropic.cannot_carry(request)
    }

    fn dialect(&self) -> Option<WireDialect> {
        Some(WireDialect::Anthropic)
    }

    /// A client's Anthropic body goes as sent, but for `model` (in the URL) and
    /// `anthropic_version` (in the body).
    fn build_passthrough(
        &self,
        call: &ProviderCall,
        body: &Passthrough,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError> {
        self.anthropic
            .vertex_request(call, Some(body), &self.url(call, stream)?, stream)
    }
}

/// Service-account bearer tokens on requests to Vertex.
pub struct VertexTokens {
    accounts: Arc<Accounts>,
    client: HttpClient,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl std::fmt::Debug for VertexTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VertexTokens")
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

impl VertexTokens {
    /// Tokens of the keys in `accounts`, fetched with `client` within `timeout`.
    pub fn new(
        accounts: Arc<Accounts>,
        client: HttpClient,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Self {
        Self {
            accounts,
            client,
            clock,
            timeout,
        }
    }
}

impl Credentials for VertexTokens {
    fn authorize<'a>(
        &'a self,
        key: &'a Arc<KeyInfo>,
        request: &'a mut Request<Full<Bytes>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match self.accounts.source(key)? {
                Some(source) => {
                    let token = source
                        .token(&self.client, &self.clock, self.timeout)
                        .await?;
                    set_bearer(request, token.value.expose())
                }
                None => set_bearer(request, key.secret().expose()),
            }
        })
    }

    fn refused(&self, key: &Arc<KeyInfo>) -> bool {
        let Ok(Some(source)) = self.accounts.source(key) else {
            return false;
        };
        source.forget();
        true
    }
}
