//! The `Provider` plug-in trait: what an adapter does for the engine.
//!
//! An adapter knows one wire protocol and nothing of key health. It turns a neutral
//! [`ProviderCall`] (request, key, upstream model) into an HTTP exchange, and answers
//! with a [`ProviderReply`], a stream of [`StreamDelta`]s, or a classified
//! [`ProviderError`]. The trait is object-safe and returns boxed futures, so adapters
//! are held as `Arc<dyn Provider>` and cross `tokio::spawn`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use serde_json::Value;

use crate::content::ContentPart;
use crate::error::{ErrorKind, ProviderError};
use crate::generate::GenerateContentRequest;
pub use crate::message::ChatRequest;
use crate::response::Usage;
use crate::secret::Secret;
use crate::tool::{ToolCall, ToolCallDelta};

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed, `Send` stream.
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;
/// The events of an open upstream stream; `None` after the protocol's terminal event.
pub type ProviderStream = BoxStream<'static, Result<StreamDelta, ProviderError>>;

/// What an adapter sees of a key.
pub struct KeyInfo {
    id: Arc<str>,
    provider: Arc<str>,
    secret: Secret,
    base_url: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl KeyInfo {
    /// A key of `provider`.
    pub fn new(
        id: impl Into<Arc<str>>,
        provider: impl Into<Arc<str>>,
        secret: Secret,
        base_url: Option<String>,
        metadata: BTreeMap<String, String>,
    ) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            secret,
            base_url,
            metadata,
        }
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's id, shared.
    pub fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    /// The key's provider.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The secret; call `expose()` only where the header is built.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The per-key endpoint, when the key has one.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// The key's metadata (`project_id`, `location`, `deployment`, …).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInfo")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("secret", &self.secret)
            .field("base_url", &self.base_url)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// One attempt: which request (a [`ChatRequest`] unless said otherwise), with which
/// key, at which upstream model.
#[derive(Debug, Clone)]
pub struct ProviderCall<R = ChatRequest> {
    /// The provider's name.
    pub provider: Arc<str>,
    /// The upstream model id.
    pub model: Arc<str>,
    /// The key.
    pub key: Arc<KeyInfo>,
    /// The request.
    pub request: Arc<R>,
}

/// Rate-limit headroom a vendor reported in its response headers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Headroom {
    /// Requests left in the window.
    pub remaining_requests: Option<u64>,
    /// Requests allowed in the window.
    pub limit_requests: Option<u64>,
    /// Time until the request window is full again.
    pub reset_requests: Option<Duration>,
    /// Tokens left in the window.
    pub remaining_tokens: Option<u64>,
    /// Tokens allowed in the window.
    pub limit_tokens: Option<u64>,
    /// Time until the token window is full again.
    pub reset_tokens: Option<Duration>,
}

impl Headroom {
    /// When the vendor says nothing is left: how long until it is again.
    pub fn exhausted_for(&self) -> Option<Duration> {
        let requests = (self.remaining_requests == Some(0))
            .then(|| self.reset_requests.unwrap_or(Duration::ZERO));
        let tokens =
            (self.remaining_tokens == Some(0)).then(|| self.reset_tokens.unwrap_or(Duration::ZERO));
        requests.max(tokens)
    }

    /// The smallest remaining fraction of any window with a known limit (1.0 when unknown).
    pub fn fraction_left(&self) -> f64 {
        let ratio = |remaining: Option<u64>, limit: Option<u64>| match (remaining, limit) {
            (Some(r), Some(l)) if l > 0 => Some((r as f64 / l as f64).min(1.0)),
            _ => None,
        };
        [
            ratio(self.remaining_requests, self.limit_requests),
            ratio(self.remaining_tokens, self.limit_tokens),
        ]
        .into_iter()
        .flatten()
        .fold(1.0, f64::min)
    }
}

/// A successful non-streamed answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderReply {
    /// The generated text.
    pub content: String,
    /// The model the vendor says answered (empty: the requested one).
    pub model: String,
    /// Token usage.
    pub usage: Usage,
    /// Why generation stopped (normalised: see `ChatResponse::finish_reason`).
    pub finish_reason: Option<String>,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning parts, signatures kept.
    pub reasoning: Vec<ContentPart>,
    /// The refusal, when the model refused.
    pub refusal: Option<String>,
    /// The vendor's body.
    pub raw: Value,
    /// Rate-limit headroom from the headers.
    pub headroom: Option<Headroom>,
    /// The upstream provider an aggregator named (OpenRouter's `provider`).
    pub upstream_provider: Option<String>,
    /// True when the request went as the client's own body (see
    /// [`Passthrough`](crate::passthrough::Passthrough)) and `raw` is the answer to it.
    pub passthrough: bool,
}

/// One event of an upstream stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamDelta {
    /// Text added.
    pub delta: String,
    /// Pieces of tool calls.
    pub tool_calls: Vec<ToolCallDelta>,
    /// Reasoning text added.
    pub reasoning: Option<String>,
    /// A reasoning block's signature.
    pub reasoning_signature: Option<String>,
    /// Set when generation stopped.
    pub finish_reason: Option<String>,
    /// Set when the vendor reported usage.
    pub usage: Option<Usage>,
    /// On a passthrough stream, the upstream's SSE event(s) behind this delta, framed.
    pub raw: Option<String>,
}

impl StreamDelta {
    /// True when the event carries something for the caller.
    pub fn has_content(&self) -> bool {
        !self.delta.is_empty()
            || !self.tool_calls.is_empty()
            || self.reasoning.is_some()
            || self.reasoning_signature.is_some()
            || self.finish_reason.is_some()
            || self.usage.is_some()
    }
}

/// An opened upstream stream.
pub struct ProviderStreamStart {
    /// Rate-limit headroom from the response headers.
    pub headroom: Option<Headroom>,
    /// The events.
    pub events: ProviderStream,
}

impl fmt::Debug for ProviderStreamStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderStreamStart")
            .field("headroom", &self.headroom)
            .finish_non_exhaustive()
    }
}

/// A vendor adapter. Object-safe; hold it as `Arc<dyn Provider>`.
///
/// ```
/// use std::sync::Arc;
/// use rotate_core::provider::*;
/// use rotate_core::error::{ErrorKind, ProviderError};
///
/// struct Echo;
/// impl Provider for Echo {
///     fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
///         Box::pin(async move {
///             let last = call.request.messages.last().map(|m| m.text()).unwrap_or_default();
///             Ok(ProviderReply { content: last, ..ProviderReply::default() })
///         })
///     }
///     fn chat_stream(&self, _call: ProviderCall) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
///         Box::pin(async { Err(ProviderError::new(ErrorKind::InvalidRequest, "no streams here")) })
///     }
/// }
/// let adapter: Arc<dyn Provider> = Arc::new(Echo);
/// # let _ = adapter;
/// ```
pub trait Provider: Send + Sync + 'static {
    /// One non-streamed chat call.
    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>>;

    /// Opens a streamed chat call.
    fn chat_stream(
        &self,
        call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>>;

    /// Refuses an upstream model id this adapter cannot put on the wire (for instance a
    /// `/` where the model is one URL path segment), as an `InvalidRequest`. The engine
    /// asks once per model when it plans a call, before any key is chosen, so a refused
    /// model never reaches a key. The default accepts every id of the model-id grammar.
    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        let _ = model;
        Ok(())
    }

    /// Why this adapter cannot carry `request` to its vendor (a part, tool or option the
    /// vendor has no form for), or `None` when it can. Asked once per plan entry before
    /// any key is chosen: a refused entry is skipped with the reason in the attempts.
    /// The default carries everything (a custom adapter sees the whole request).
    fn cannot_carry(&self, request: &ChatRequest) -> Option<String> {
        let _ = request;
        None
    }

    /// True when the adapter speaks Gemini's `generateContent` (Google's providers).
    /// The engine refuses `generate_content` before any network call otherwise.
    fn speaks_generate_content(&self) -> bool {
        false
    }

    /// True when the adapter speaks an embeddings API; `embed` calls skip plan entries
    /// whose adapter does not.
    fn speaks_embeddings(&self) -> bool {
        false
    }

    /// One embedding call. The default refuses it.
    fn embed(
        &self,
        call: ProviderCall<crate::embed::EmbedRequest>,
    ) -> BoxFuture<'static, Result<crate::embed::ProviderEmbedding, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::new(
                ErrorKind::Configuration,
                format!("provider `{}` has no embeddings API", call.provider),
            ))
        })
    }

    /// The wire dialect the adapter speaks, when it is one a client body can be written
    /// in: a [`Passthrough`](crate::passthrough::Passthrough) of that dialect is sent to it
    /// unchanged, and one of another dialect with fields no translation carries skips
    /// it. The default (a custom adapter) speaks none.
    fn dialect(&self) -> Option<crate::passthrough::WireDialect> {
        None
    }

    /// True when a client body of `dialect` goes to this adapter unchanged: its own
    /// dialect, and for OpenAI and Azure keys the Responses API too.
    fn accepts(&self, dialect: crate::passthrough::WireDialect) -> bool {
        self.dialect() == Some(dialect)
    }

    /// One non-streamed `generateContent` call. The default refuses it.
    fn generate(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        Box::pin(async move { Err(no_generate_content(&call.provider)) })
    }

    /// Opens a streamed `generateContent` call. The default refuses it.
    fn generate_stream(
        &self,
        call: ProviderCall<GenerateContentRequest>,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        Box::pin(async move { Err(no_generate_content(&call.provider)) })
    }
}

fn no_generate_content(provider: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Configuration,
        format!("provider `{provider}` does not speak Gemini's generateContent"),
    )
}

/// Builds the adapter of a configured provider (the facade's wiring of wire protocols).
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter for provider `name` with merged settings `config`.
    fn adapter(
        &self,
        name: &str,
        config: &crate::config::ProviderConfig,
        defaults: &crate::config::DefaultsConfig,
    ) -> Result<Arc<dyn Provider>, crate::error::ConfigurationError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_exhaustion_and_fraction() {
        let h = Headroom {
            remaining_requests: Some(0),
            limit_requests: Some(100),
            reset_requests: Some(Duration::from_millis(1500)),
            remaining_tokens: Some(500),
            limit_tokens: Some(1000),
            reset_tokens: Some(Duration::from_secs(6)),
        };
        assert_eq!(h.exhausted_for(), Some(Duration::from_millis(1500)));
        assert_eq!(h.fraction_left(), 0.0);
        let fine = Headroom {
            remaining_tokens: Some(500),
            limit_tokens: Some(1000),
            ..Headroom::default()
        };
        assert_eq!(fine.exhausted_for(), None);
        assert_eq!(fine.fraction_left(), 0.5);
        assert_eq!(Headroom::default().fraction_left(), 1.0);
    }

    #[test]
    fn key_info_debug_hides_the_secret() {
        let k = KeyInfo::new(
            "k1",
            "openai",
            Secret::new("sk-abcdefghijklmnopqrstuvwxyz"),
            None,
            BTreeMap::new(),
        );
        let shown = format!("{k:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains("abcdefghijkl"));
    }
}
