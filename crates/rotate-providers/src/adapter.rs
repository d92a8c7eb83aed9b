//! The adapter every wire protocol shares: build, send, read, parse or classify.
//!
//! A protocol says how to build a request, parse a reply, classify an error and read
//! its stream ([`WireProtocol`]); [`Adapter`] does the HTTP exchange, the timeouts, and
//! turns it into the core's [`Provider`] trait. Nothing here knows about key health.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use rotate_core::clock::Clock;
use rotate_core::config::{DefaultsConfig, ProviderConfig};
use rotate_core::embed::{EmbedRequest, ProviderEmbedding};
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::passthrough::{Passthrough, WireDialect};
use rotate_core::provider::{
    BoxFuture, Headroom, Provider, ProviderCall, ProviderReply, ProviderStreamStart,
};

use crate::client::{read_body, HttpClient};
use crate::credentials::{copy_request, Credentials};
use crate::errors::{scrub, with_vendor};
use crate::events::{EventStream, StreamProtocol};

/// One vendor wire protocol.
pub trait WireProtocol: Send + Sync + 'static {
    /// The stream grammar.
    type Stream: StreamProtocol;

    /// The HTTP request of a call.
    fn build(
        &self,
        call: &ProviderCall,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError>;

    /// Parses a successful body.
    fn parse_reply(&self, body: &[u8]) -> Result<ProviderReply, ProviderError>;

    /// Classifies a failed answer.
    fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now_unix_ms: u64,
    ) -> ProviderError;

    /// Rate-limit headroom from the headers.
    fn headroom(&self, headers: &HeaderMap, now_unix_ms: u64) -> Option<Headroom>;

    /// A fresh stream parser.
    fn stream_protocol(&self) -> Self::Stream;

    /// Refuses a model id this protocol cannot put on the wire (see
    /// [`Provider::check_model`]). The default accepts every id.
    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        let _ = model;
        Ok(())
    }

    /// Why this protocol cannot carry `request` (see [`Provider::cannot_carry`]).
    fn cannot_carry(&self, request: &rotate_core::message::ChatRequest) -> Option<String>;

    /// The dialect a client body must be written in to go to this protocol unchanged.
    fn dialect(&self) -> Option<WireDialect>;

    /// True when a client body of `dialect` goes to this protocol unchanged (its own
    /// dialect unless the protocol says more).
    fn accepts(&self, dialect: WireDialect) -> bool {
        self.dialect() == Some(dialect)
    }

    /// Parses the answer to a passthrough body (the body's dialect may differ from the
    /// protocol's own, as Responses does from Chat Completions).
    fn parse_passthrough_reply(
        &self,
        body: &Passthrough,
        reply: &[u8],
    ) -> Result<ProviderReply, ProviderError> {
        let _ = body;
        self.parse_reply(reply)
    }

    /// The HTTP request of a call carrying the client's own `body` (see
    /// [`Passthrough`]): the body as sent, with the model and stream switches set.
    fn build_passthrough(
        &self,
        call: &ProviderCall,
        body: &Passthrough,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError>;

    /// True when the protocol has an embeddings API.
    fn speaks_embeddings(&self) -> bool {
        false
    }

    /// The HTTP request of an embedding call (only asked when
    /// [`speaks_embeddings`](Self::speaks_embeddings)), carrying the client's own `body`
    /// when it is in this protocol's dialect.
    fn build_embed(
        &self,
        call: &ProviderCall<EmbedRequest>,
        body: Option<&Passthrough>,
    ) -> Result<Request<Full<Bytes>>, ProviderError> {
        let _ = body;
        Err(ProviderError::new(
            ErrorKind::Configuration,
            format!("provider `{}` has no embeddings API", call.provider),
        ))
    }

    /// Parses a successful embeddings answer.
    fn parse_embed(&self, body: &[u8]) -> Result<ProviderEmbedding, ProviderError> {
        let _ = body;
        Err(ProviderError::new(
            ErrorKind::Configuration,
            "this protocol has no embeddings API",
        ))
    }

    /// A stream parser for a passthrough stream of a client that sent `body`.
    fn passthrough_stream(&self, body: &Passthrough) -> Self::Stream {
        let _ = body;
        self.stream_protocol()
    }
}

/// The client body `call` goes with unchanged to `wire`, if any.
fn passthrough_for<'a>(
    call: &'a ProviderCall,
    wire: &impl WireProtocol,
) -> Option<&'a Passthrough> {
    call.request
        .passthrough
        .as_ref()
        .filter(|p| wire.accepts(p.dialect()))
}

/// Timeouts of one provider.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// One request (head and whole body of a non-streamed answer).
    pub request: Duration,
    /// Longest silence inside a stream.
    pub stream_idle: Duration,
}

impl Timeouts {
    /// A provider's timeouts under `defaults`.
    pub fn of(config: &ProviderConfig, defaults: &DefaultsConfig) -> Self {
        Self {
            request: Duration::from_secs(
                config
                    .timeout_seconds
                    .unwrap_or(defaults.request_timeout_seconds),
            ),
            stream_idle: Duration::from_secs(
                config
                    .stream_idle_timeout_seconds
                    .unwrap_or(defaults.stream_idle_timeout_seconds),
            ),
        }
    }
}

struct Inner<W> {
    wire: W,
    client: HttpClient,
    timeouts: Timeouts,
    clock: Arc<dyn Clock>,
    credentials: Option<Arc<dyn Credentials>>,
}

impl<W: WireProtocol> Inner<W> {
    /// `request` with `key`'s credentials put on by the adapter's [`Credentials`], if
    /// it has any (and a copy without them, to retry after a 401).
    async fn authorized(
        &self,
        key: &Arc<rotate_core::provider::KeyInfo>,
        request: Request<Full<Bytes>>,
    ) -> Result<(Request<Full<Bytes>>, Option<Request<Full<Bytes>>>), ProviderError> {
        let Some(credentials) = self.credentials.as_ref().filter(|c| c.wants(key)) else {
            return Ok((request, None));
        };
        let retry = copy_request(&request);
        let mut request = request;
        credentials.authorize(key, &mut request).await?;
        Ok((request, Some(retry)))
    }

    /// After a 401 to a request sent with credentials: the copy to send again with
    /// fresh ones, when the credentials say a retry can help.
    async fn reauthorized(
        &self,
        key: &Arc<rotate_core::provider::KeyInfo>,
        retry: Option<Request<Full<Bytes>>>,
    ) -> Result<Option<Request<Full<Bytes>>>, ProviderError> {
        let (Some(credentials), Some(mut request)) = (&self.credentials, retry) else {
            return Ok(None);
        };
        if !credentials.refused(key) {
            return Ok(None);
        }
        tracing::debug!(key_id = %key.id(), "credentials refused; trying once with fresh ones");
        credentials.authorize(key, &mut request).await?;
        Ok(Some(request))
    }

    /// Sends a streamed request with the key's credentials (once more after a 401 the
    /// credentials can mend).
    async fn send_stream(
        &self,
        key: &Arc<rotate_core::provider::KeyInfo>,
        request: Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, ProviderError> {
        let (request, retry) = self.authorized(key, request).await?;
        let response = self.client.send(request, self.timeouts.request).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            if let Some(again) = self.reauthorized(key, retry).await? {
                crate::events::drain(response.into_body());
                return self.client.send(again, self.timeouts.request).await;
            }
        }
        Ok(response)
    }

    /// One non-streamed exchange: the headroom and body of a success, or the failure
    /// classified (the vendor's words kept, an echoed secret removed).
    ///
    /// A key with no credentials to put on (the common case) takes a combinator path
    /// that holds nothing beside the exchange, which keeps every call's future small;
    /// one with credentials goes through [`Inner::send_authorized`], boxed.
    fn send_json<'a>(
        &'a self,
        key: &'a Arc<rotate_core::provider::KeyInfo>,
        request: Request<Full<Bytes>>,
    ) -> impl Future<Output = Result<(Option<Headroom>, Bytes), ProviderError>> + Send + 'a {
        let exchange = if self.credentials.as_ref().is_some_and(|c| c.wants(key)) {
            Either::Right(Box::pin(self.send_authorized(key, request)))
        } else {
            Either::Left(self.client.exchange(request, self.timeouts.request))
        };
        exchange.map(move |outcome| {
            let (parts, body) = outcome?;
            let now = self.clock.unix_ms();
            if !parts.status.is_success() {
                let error = self.wire.classify(parts.status, &parts.headers, &body, now);
                let error = with_vendor(error, self.wire.dialect(), parts.status, &body);
                return Err(scrub(error, key.secret()));
            }
            Ok((self.wire.headroom(&parts.headers, now), body))
        })
    }

    /// A non-streamed exchange with the key's credentials put on (once more after a
    /// 401 the credentials can mend).
    async fn send_authorized(
        &self,
        key: &Arc<rotate_core::provider::KeyInfo>,
        request: Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), ProviderError> {
        let (request, retry) = self.authorized(key, request).await?;
        let (parts, body) = self.client.exchange(request, self.timeouts.request).await?;
        if parts.status == StatusCode::UNAUTHORIZED {
            if let Some(again) = self.reauthorized(key, retry).await? {
                return self.client.exchange(again, self.timeouts.request).await;
            }
        }
        Ok((parts, body))
    }
}

/// A [`Provider`] speaking protocol `W` over a pooled client.
pub struct Adapter<W> {
    inner: Arc<Inner<W>>,
}

impl<W> std::fmt::Debug for Adapter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl<W: WireProtocol> Adapter<W> {
    /// An adapter for `wire` using `client`.
    pub fn new(wire: W, client: HttpClient, timeouts: Timeouts, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                wire,
                client,
                timeouts,
                clock,
                credentials: None,
            }),
        }
    }

    /// An adapter for `wire` that puts each key's credentials on its requests with
    /// `credentials` (keys that are more than a header: tokens, signatures).
    pub fn with_credentials(
        wire: W,
        client: HttpClient,
        timeouts: Timeouts,
        clock: Arc<dyn Clock>,
        credentials: Arc<dyn Credentials>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                wire,
                client,
                timeouts,
                clock,
                credentials: Some(credentials),
            }),
        }
    }

    /// The protocol.
    pub fn wire(&self) -> &W {
        &self.inner.wire
    }
}

impl<W: WireProtocol> Provider for Adapter<W> {
    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        self.inner.wire.check_model(model)
    }

    fn cannot_carry(&self, request: &rotate_core::message::ChatRequest) -> Option<String> {
        let whole = request
            .passthrough
            .as_ref()
            .is_some_and(|p| self.inner.wire.accepts(p.dialect()));
        if whole {
            return None;
        }
        self.inner.wire.cannot_carry(request)
    }

    fn dialect(&self) -> Option<WireDialect> {
        self.inner.wire.dialect()
    }

    fn accepts(&self, dialect: WireDialect) -> bool {
        self.inner.wire.accepts(dialect)
    }

    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let pass = passthrough_for(&call, &inner.wire);
            let request = match pass {
                Some(body) => inner.wire.build_passthrough(&call, body, false)?,
                None => inner.wire.build(&call, false)?,
            };
            let passthrough = pass.is_some();
            let (headroom, body) = inner.send_json(&call.key, request).await?;
            let parsed = match pass {
                Some(pass) => inner.wire.parse_passthrough_reply(pass, &body),
                None => inner.wire.parse_reply(&body),
            };
            let mut reply = parsed.map_err(|e| scrub(e, call.key.secret()))?;
            reply.headroom = headroom;
            reply.passthrough = passthrough;
            sign_reasoning(&mut reply, &call.provider);
            Ok(reply)
        })
    }

    fn speaks_embeddings(&self) -> bool {
        self.inner.wire.speaks_embeddings()
    }

    fn embed(
        &self,
        call: ProviderCall<EmbedRequest>,
    ) -> BoxFuture<'static, Result<ProviderEmbedding, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let pass = call
                .request
                .passthrough
                .as_ref()
                .filter(|p| p.passes_to(inner.wire.dialect()));
            let request = inner.wire.build_embed(&call, pass)?;
            let passthrough = pass.is_some();
            let (headroom, body) = inner.send_json(&call.key, request).await?;
            let mut reply = inner
                .wire
                .parse_embed(&body)
                .map_err(|e| scrub(e, call.key.secret()))?;
            reply.headroom = headroom;
            reply.passthrough = passthrough;
            Ok(reply)
        })
    }

    fn chat_stream(
        &self,
        call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let pass = passthrough_for(&call, &inner.wire);
            let (request, protocol) = match pass {
                Some(body) => (
                    inner.wire.build_passthrough(&call, body, true)?,
                    inner.wire.passthrough_stream(body),
                ),
                None => (inner.wire.build(&call, true)?, inner.wire.stream_protocol()),
            };
            let passing_through = pass.is_some();
            let response = inner.send_stream(&call.key, request).await?;
            let now = inner.clock.unix_ms();
            let headroom = inner.wire.headroom(response.headers(), now);
            open_events(
                response,
                protocol,
                passing_through,
                inner.timeouts,
                headroom,
                |parts, body| {
                    let error = inner.wire.classify(parts.status, &parts.headers, body, now);
                    let error = with_vendor(error, inner.wire.dialect(), parts.status, body);
                    scrub(error, call.key.secret())
                },
            )
            .await
        })
    }
}

/// Turns an answer to a streamed request into the events of `protocol`: a failed
/// status is read and `classify`d, a body that is not an event stream is a `Decode`
/// error.
pub async fn open_events<P: StreamProtocol>(
    response: http::Response<hyper::body::Incoming>,
    protocol: P,
    passing_through: bool,
    timeouts: Timeouts,
    headroom: Option<Headroom>,
    classify: impl FnOnce(&http::response::Parts, &[u8]) -> ProviderError,
) -> Result<ProviderStreamStart, ProviderError> {
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        let body = read_body(body, timeouts.request).await?;
        return Err(classify(&parts, &body));
    }
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with(protocol.framing().content_type()) {
        let body = read_body(body, timeouts.request).await?;
        let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(ProviderError::new(
            ErrorKind::Decode,
            format!("expected an event stream, got `{content_type}`: {shown}"),
        )
        .with_status(parts.status.as_u16()));
    }
    let events = EventStream::new(body, protocol, timeouts.stream_idle);
    Ok(ProviderStreamStart {
        headroom,
        events: if passing_through {
            Box::pin(events.passing_through())
        } else {
            Box::pin(events)
        },
    })
}

/// Names `provider` as the producer of the reply's reasoning parts (only it is sent them
/// back).
pub fn sign_reasoning(reply: &mut ProviderReply, provider: &str) {
    for part in &mut reply.reasoning {
        if let Some(reasoning) = part.as_reasoning().filter(|r| r.provider.is_empty()) {
            *part = rotate_core::content::ContentPart::reasoning(rotate_core::tool::Reasoning {
                provider: provider.to_owned(),
                ..reasoning.clone()
            });
        }
    }
}
