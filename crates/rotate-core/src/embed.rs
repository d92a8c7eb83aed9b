//! Embeddings: [`EmbedOptions`], the neutral [`EmbedRequest`] adapters receive, what
//! they answer ([`ProviderEmbedding`]) and what the caller gets ([`EmbedResponse`]).
//!
//! An embedding call rotates, retries and falls back like a chat call, over the plan
//! entries whose adapter speaks an embeddings API (OpenAI-family and Azure keys, Gemini
//! on AI Studio); the others are skipped with the reason in the attempts.
//!
//! ```
//! use rotate_core::embed::{EmbedOptions, EmbedRequest};
//!
//! let opts = EmbedOptions::default().dimensions(256);
//! let request = EmbedRequest::new(&["a cat", "a dog"], &opts);
//! assert_eq!(request.inputs.len(), 2);
//! assert_eq!(request.dimensions, Some(256));
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::passthrough::Passthrough;
use crate::provider::Headroom;
use crate::response::Usage;

/// Options of `embed`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedOptions {
    /// Call this provider only.
    pub provider: Option<String>,
    /// Retries after transient failures (overrides provider and defaults).
    pub max_retries: Option<u32>,
    /// The longest the whole call may take, retries and fallback included.
    pub timeout: Option<Duration>,
    /// The size of each vector, for models that can shorten theirs.
    pub dimensions: Option<u32>,
    /// Extra body fields, merged into the provider request as-is.
    pub extra: Map<String, Value>,
    /// The client's own body, sent unchanged to keys that speak its dialect.
    pub passthrough: Option<Passthrough>,
    /// The client the call is made for (see [`ChatOptions::client`](crate::options::ChatOptions::client)).
    pub client: Option<String>,
}

impl EmbedOptions {
    /// Sets `provider`.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets `dimensions`.
    pub fn dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// Sets `max_retries`.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// Sets `timeout`, the deadline of the whole call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A provider-neutral embedding request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedRequest {
    /// The texts, one vector each.
    pub inputs: Vec<String>,
    /// The size of each vector.
    pub dimensions: Option<u32>,
    /// Extra body fields.
    pub extra: Map<String, Value>,
    /// The client's own body, for keys that speak its dialect.
    pub passthrough: Option<Passthrough>,
}

impl EmbedRequest {
    /// The request for `inputs` under `opts`.
    pub fn new(inputs: &[impl AsRef<str>], opts: &EmbedOptions) -> Self {
        Self {
            inputs: inputs.iter().map(|i| i.as_ref().to_owned()).collect(),
            dimensions: opts.dimensions,
            extra: opts.extra.clone(),
            passthrough: opts.passthrough.clone(),
        }
    }
}

/// What an adapter answers to an embedding call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderEmbedding {
    /// One vector per input, in order.
    pub embeddings: Vec<Vec<f32>>,
    /// The model the vendor says answered (empty: the requested one).
    pub model: String,
    /// Token usage (prompt tokens only).
    pub usage: Usage,
    /// The vendor's body.
    pub raw: Value,
    /// Rate-limit headroom from the headers.
    pub headroom: Option<Headroom>,
    /// True when the request went as the client's own body and `raw` answers it.
    pub passthrough: bool,
}

/// The answer of an embedding call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// One vector per input, in order.
    pub embeddings: Vec<Vec<f32>>,
    /// The provider that served the call.
    pub provider: String,
    /// The upstream model id actually called.
    pub model: String,
    /// The id of the key that served it (never its value).
    pub key_id: String,
    /// Token usage.
    pub usage: Usage,
    /// End-to-end latency of the call, retries included, in milliseconds.
    pub latency_ms: f64,
    /// The vendor's response body.
    pub raw: Value,
    /// True when `raw` answers the client's own body (see [`EmbedOptions::passthrough`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passthrough: bool,
}
