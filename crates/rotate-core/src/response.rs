//! What a call returns: [`ChatResponse`], [`StreamChunk`] and [`Usage`].

use serde::{Deserialize, Serialize};

/// Token usage of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input tokens (cached ones included).
    pub prompt_tokens: u64,
    /// Output tokens (reasoning ones included).
    pub completion_tokens: u64,
    /// Their sum as the vendor reported it.
    pub total_tokens: u64,
    /// Input tokens served from the vendor's prompt cache.
    pub cached_tokens: u64,
    /// Output tokens spent on reasoning / thinking.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Usage with the total computed from prompt and completion.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Self::default()
        }
    }
}

/// The answer of a non-streamed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The generated text.
    pub content: String,
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
    /// Why generation stopped (`stop`, `length`, `tool_calls`, `content_filter`, …).
    pub finish_reason: Option<String>,
    /// The vendor's response body.
    pub raw: serde_json::Value,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamChunk {
    /// Text added by this chunk.
    pub delta: String,
    /// Set on the final chunk.
    pub finish_reason: Option<String>,
    /// Set on the final chunk.
    pub usage: Option<Usage>,
    /// The provider serving the stream.
    pub provider: String,
    /// The upstream model id serving the stream.
    pub model: String,
}
