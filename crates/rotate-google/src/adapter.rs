//! [`GoogleAdapter`]: the `google` (AI Studio) and `vertex` providers behind the core's
//! `Provider` trait. `generate`/`generate_stream` send a [`GenerateContentRequest`];
//! `chat`/`chat_stream` map the messages onto one. Large inline inputs go through the
//! Files API (AI Studio) or are refused (Vertex); service-account tokens are fetched,
//! cached, and renewed once after a 401.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use rotate_core::clock::Clock;
use rotate_core::config::{DefaultsConfig, ProviderConfig};
use rotate_core::content::ContentPart;
use rotate_core::error::{ConfigurationError, ErrorKind, ProviderError};
use rotate_core::generate::GenerateContentRequest;
use rotate_core::passthrough::WireDialect;
use rotate_core::provider::{
    BoxFuture, KeyInfo, Provider, ProviderCall, ProviderReply, ProviderStreamStart,
};
use rotate_providers::adapter::{open_events, Timeouts};
use rotate_providers::client::{read_body, HttpClient};
use rotate_providers::errors::{scrub, with_vendor};
use rotate_providers::events::drain;
use rotate_providers::request::{json_request, secret_header, static_headers};

use crate::accounts::Accounts;
use crate::auth::{Token, TokenSource};
use crate::body::{self, Uploads};
use crate::endpoint::{self, Method};
use crate::files::FilesApi;
use crate::reply::{self, Service};
use crate::stream::GeminiStream;

mod embed;

/// Inline payloads above this many bytes (in total) go through the Files API.
pub const DEFAULT_INLINE_LIMIT_BYTES: u64 = 20 * 1024 * 1024;

/// How a key authenticates.
enum Credential {
    /// `x-goog-api-key` (AI Studio, Vertex express mode).
    ApiKey,
    /// A service account's bearer token (Vertex).
    Account(Arc<TokenSource>),
}

struct Inner {
    service: Service,
    base_url: Option<String>,
    headers: HeaderMap,
    client: HttpClient,
    timeouts: Timeouts,
    clock: Arc<dyn Clock>,
    inline_limit: u64,
    accounts: Accounts,
}

/// The adapter of one Google provider (its own connection pool and token caches).
#[derive(Clone)]
pub struct GoogleAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GoogleAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAdapter")
            .field("service", &self.inner.service)
            .field("base_url", &self.inner.base_url)
            .field("inline_limit", &self.inner.inline_limit)
            .finish_non_exhaustive()
    }
}

impl GoogleAdapter {
    /// The adapter of provider `name` (`service` says AI Studio or Vertex).
    pub fn new(
        name: &str,
        service: Service,
        config: &ProviderConfig,
        defaults: &DefaultsConfig,
        client: HttpClient,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigurationError> {
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                base_url: config.base_url.clone(),
                headers: static_headers(name, config)?,
                client,
                timeouts: Timeouts::of(config, defaults),
                clock,
                inline_limit: config
                    .inline_limit_bytes
                    .unwrap_or(DEFAULT_INLINE_LIMIT_BYTES),
                accounts: Accounts::default(),
            }),
        })
    }
}

impl Inner {
    fn base<'a, R>(&'a self, call: &'a ProviderCall<R>) -> Result<&'a str, ProviderError> {
        call.key
            .base_url()
            .or(self.base_url.as_deref())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Configuration,
                    format!("provider `{}` has no base_url", call.provider),
                )
            })
    }

    fn credential(&self, key: &Arc<KeyInfo>) -> Result<Credential, ProviderError> {
        if self.service == Service::Studio
            || key.metadata().get("mode").map(String::as_str) == Some("express")
        {
            return Ok(Credential::ApiKey);
        }
        Ok(match self.accounts.source(key)? {
            Some(source) => Credential::Account(source),
            None => Credential::ApiKey,
        })
    }

    fn url(
        &self,
        call: &ProviderCall<GenerateContentRequest>,
        credential: &Credential,
        method: Method,
    ) -> Result<String, ProviderError> {
        let base = self.base(call)?;
        match (self.service, credential) {
            (Service::Studio, _) => endpoint::studio_url(base, &call.model, method),
            (Service::Vertex, Credential::ApiKey) => {
                endpoint::vertex_express_url(base, &call.model, method)
            }
            (Service::Vertex, Credential::Account(source)) => {
                endpoint::vertex_url(base, &call.key, Some(source.account()), &call.model, method)
            }
        }
    }

    /// The key's auth header, and the token it holds (to drop it after a 401).
    async fn auth(
        &self,
        key: &KeyInfo,
        credential: &Credential,
    ) -> Result<(HeaderMap, Option<Token>), ProviderError> {
        let mut headers = HeaderMap::new();
        match credential {
            Credential::ApiKey => {
                headers.insert("x-goog-api-key", secret_header(key.secret().expose())?);
                Ok((headers, None))
            }
            Credential::Account(source) => {
                let token = source
                    .token(&self.client, &self.clock, self.timeouts.request)
                    .await?;
                headers.insert(
                    http::header::AUTHORIZATION,
                    secret_header(&format!("Bearer {}", token.value.expose()))?,
                );
                Ok((headers, Some(token)))
            }
        }
    }

    /// Uploads the largest inline parts until the rest fits the inline limit (AI
    /// Studio), or refuses the request (Vertex).
    async fn offload(
        &self,
        call: &ProviderCall<GenerateContentRequest>,
        auth: &HeaderMap,
    ) -> Result<Uploads, ProviderError> {
        let mut uploads = Uploads::new();
        let mut inline = call.request.inline_bytes() as u64;
        if inline <= self.inline_limit {
            return Ok(uploads);
        }
        if self.service == Service::Vertex {
            return Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{inline} bytes of inline data exceed Vertex's {} byte request limit; upload the file to Cloud Storage and pass ContentPart::file(\"gs://…\", mime_type)",
                    self.inline_limit
                ),
            ));
        }
        let mut parts: Vec<((usize, usize), &ContentPart)> = call
            .request
            .contents
            .iter()
            .enumerate()
            .flat_map(|(c, content)| {
                content
                    .parts
                    .iter()
                    .enumerate()
                    .map(move |(p, part)| ((c, p), part))
            })
            .filter(|(_, part)| part.data().is_some())
            .collect();
        parts.sort_by_key(|(_, part)| std::cmp::Reverse(part.data().map_or(0, <[u8]>::len)));
        let files = FilesApi::of(self.base(call)?);
        for (at, part) in parts {
            if inline <= self.inline_limit {
                break;
            }
            let data = part.data().unwrap_or(&[]);
            let mime = part.mime_type().unwrap_or("application/octet-stream");
            tracing::debug!(
                bytes = data.len(),
                mime,
                "uploading an inline part through the Files API"
            );
            let file = files
                .upload(&self.client, auth, data, mime, self.timeouts.request)
                .await?;
            uploads.insert(at, file);
            inline -= data.len() as u64;
        }
        Ok(uploads)
    }

    /// Sends the call; a 401 with a cached token drops it and tries once more.
    async fn send(
        &self,
        call: &ProviderCall<GenerateContentRequest>,
        method: Method,
    ) -> Result<http::Response<Incoming>, ProviderError> {
        let credential = self.credential(&call.key)?;
        let url = self.url(call, &credential, method)?;
        let (mut auth, mut token) = self.auth(&call.key, &credential).await?;
        let body = match passthrough_of(call) {
            // the client's own Gemini body: the model and method are in the URL
            Some(pass) => Bytes::from(pass.write_with(&[], &[])),
            None => {
                let uploads = self.offload(call, &auth).await?;
                Bytes::from(body::build(&call.request, &uploads)?)
            }
        };
        let mut retried = false;
        loop {
            let mut headers = self.headers.clone();
            headers.extend(auth.clone());
            let request = json_request(&url, headers, body.clone())?;
            let response = self.client.send(request, self.timeouts.request).await?;
            match (&credential, token.as_ref()) {
                (Credential::Account(source), Some(used))
                    if response.status() == StatusCode::UNAUTHORIZED && !retried =>
                {
                    tracing::debug!(key_id = %call.key.id(), "token refused; fetching a new one");
                    source.invalidate(used);
                    drain(response.into_body());
                    (auth, token) = self.auth(&call.key, &credential).await?;
                    retried = true;
                }
                _ => return Ok(response),
            }
        }
    }

    async fn generate(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> Result<ProviderReply, ProviderError> {
        let response = self.send(&call, Method::Generate).await?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, self.timeouts.request).await?;
        let result = if parts.status.is_success() {
            reply::parse(&body).map(|mut reply| {
                rotate_providers::adapter::sign_reasoning(&mut reply, &call.provider);
                reply.passthrough = passthrough_of(&call).is_some();
                reply
            })
        } else {
            let error = reply::classify(parts.status, &body, self.service, self.clock.unix_ms());
            Err(with_vendor(
                error,
                Some(WireDialect::Gemini),
                parts.status,
                &body,
            ))
        };
        result.map_err(|e| scrub(e, call.key.secret()))
    }

    async fn generate_stream(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> Result<ProviderStreamStart, ProviderError> {
        let response = self.send(&call, Method::Stream).await?;
        let service = self.service;
        let now_ms = self.clock.unix_ms();
        open_events(
            response,
            GeminiStream::default(),
            passthrough_of(&call).is_some(),
            self.timeouts,
            None,
            |parts, body| {
                let error = reply::classify(parts.status, body, service, now_ms);
                let error = with_vendor(error, Some(WireDialect::Gemini), parts.status, body);
                scrub(error, call.key.secret())
            },
        )
        .await
    }
}

/// The client's Gemini body a call carries, if any.
fn passthrough_of(
    call: &ProviderCall<GenerateContentRequest>,
) -> Option<&rotate_core::passthrough::Passthrough> {
    call.request
        .passthrough
        .as_ref()
        .filter(|p| p.passes_to(Some(WireDialect::Gemini)))
}

/// The same call with the chat request mapped onto Gemini contents.
fn as_generate(call: ProviderCall) -> ProviderCall<GenerateContentRequest> {
    ProviderCall {
        request: Arc::new(GenerateContentRequest::from_chat_for(
            &call.request,
            &call.provider,
        )),
        provider: call.provider,
        model: call.model,
        key: call.key,
    }
}

impl Provider for GoogleAdapter {
    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        self.generate(as_generate(call))
    }

    fn chat_stream(
        &self,
        call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        self.generate_stream(as_generate(call))
    }

    fn speaks_generate_content(&self) -> bool {
        true
    }

    /// AI Studio has `:embedContent`; Vertex's embeddings are another API.
    fn speaks_embeddings(&self) -> bool {
        self.inner.service == Service::Studio
    }

    fn embed(
        &self,
        call: ProviderCall<rotate_core::embed::EmbedRequest>,
    ) -> BoxFuture<'static, Result<rotate_core::embed::ProviderEmbedding, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.embed(call).await })
    }

    fn dialect(&self) -> Option<rotate_core::passthrough::WireDialect> {
        Some(rotate_core::passthrough::WireDialect::Gemini)
    }

    /// The model is one path segment of every Gemini and Vertex URL.
    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        endpoint::check_model(model)
    }

    fn generate(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.generate(call).await })
    }

    fn generate_stream(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.generate_stream(call).await })
    }
}
