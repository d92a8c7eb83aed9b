//! What a call returns: [`ChatResponse`], [`StreamChunk`] and [`Usage`].

use serde::{Deserialize, Serialize};

use crate::content::ContentPart;
use crate::message::{ChatMessage, Role};
use crate::provider::StreamDelta;
use crate::tool::{Reasoning, ToolCall, ToolCallDelta};

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
    /// Input tokens written to the vendor's prompt cache (Anthropic cache creation).
    #[serde(default)]
    pub cache_write_tokens: u64,
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
    /// Why generation stopped, normalised: `stop`, `length`, `tool_calls`,
    /// `content_filter`, `refusal`, or the vendor's own word.
    pub finish_reason: Option<String>,
    /// The tool calls the model made, in order.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// The reasoning parts (signatures kept), in order.
    #[serde(default)]
    pub reasoning: Vec<ContentPart>,
    /// The model's refusal, when it refused.
    #[serde(default)]
    pub refusal: Option<String>,
    /// What the call cost in USD, by the price table (none for a model with no price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The vendor's response body.
    pub raw: serde_json::Value,
    /// True when `raw` answers the client's own body, sent unchanged to a key of its
    /// dialect (see [`ChatOptions::passthrough`](crate::options::ChatOptions::passthrough)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passthrough: bool,
}

impl ChatResponse {
    /// The assistant turn to append to the history: reasoning (signatures kept), then
    /// the text, then the tool calls.
    pub fn message(&self) -> ChatMessage {
        let mut parts = self.reasoning.clone();
        if !self.content.is_empty() {
            parts.push(ContentPart::text(self.content.clone()));
        }
        parts.extend(self.tool_calls.iter().cloned().map(ContentPart::tool_call));
        ChatMessage::new(Role::Assistant, parts)
    }
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamChunk {
    /// Text added by this chunk.
    pub delta: String,
    /// Pieces of tool calls (by index).
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
    /// Reasoning text added by this chunk.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// The signature of the reasoning block streamed so far.
    #[serde(default)]
    pub reasoning_signature: Option<String>,
    /// Set on the final chunk.
    pub finish_reason: Option<String>,
    /// Set on the final chunk.
    pub usage: Option<Usage>,
    /// What the stream has cost so far, in US dollars: set with `usage` when the model
    /// has a price (see `ChatResponse::cost_usd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The provider serving the stream.
    pub provider: String,
    /// The upstream model id serving the stream.
    pub model: String,
    /// On a passthrough stream, the upstream's own SSE events this chunk stands for,
    /// framed as received (events before the first content arrive with the first chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

impl StreamChunk {
    /// The chunk of an upstream event, served by `provider` with `model`.
    pub fn from_delta(delta: StreamDelta, provider: &str, model: &str) -> Self {
        Self {
            delta: delta.delta,
            tool_calls: delta.tool_calls,
            reasoning: delta.reasoning,
            reasoning_signature: delta.reasoning_signature,
            finish_reason: delta.finish_reason,
            usage: delta.usage,
            cost_usd: None,
            provider: provider.to_owned(),
            model: model.to_owned(),
            raw: delta.raw,
        }
    }
}

/// Folds stream chunks into the [`ChatResponse`] the same call would have returned
/// without streaming: text appended, tool-call pieces joined by index, reasoning text and
/// signature gathered into one reasoning part, the last finish reason and usage kept.
#[derive(Debug, Default)]
pub struct ResponseCollector {
    content: String,
    calls: Vec<ToolCall>,
    reasoning: Option<Reasoning>,
    finish_reason: Option<String>,
    usage: Usage,
    cost_usd: Option<f64>,
    provider: String,
    model: String,
}

impl ResponseCollector {
    /// Adds one chunk.
    pub fn push(&mut self, chunk: StreamChunk) {
        self.content.push_str(&chunk.delta);
        for piece in chunk.tool_calls {
            let index = piece.index as usize;
            if self.calls.len() <= index {
                self.calls.resize(index + 1, ToolCall::new("", "", ""));
            }
            let call = &mut self.calls[index];
            if let Some(id) = piece.id {
                call.id = id;
            }
            if let Some(name) = piece.name {
                call.name = name;
            }
            call.arguments.push_str(&piece.arguments);
        }
        if chunk.reasoning.is_some() || chunk.reasoning_signature.is_some() {
            let block = self.reasoning.get_or_insert_with(|| Reasoning {
                text: String::new(),
                signature: None,
                redacted: None,
                provider: chunk.provider.clone(),
            });
            if let Some(text) = chunk.reasoning {
                block.text.push_str(&text);
            }
            if let Some(signature) = chunk.reasoning_signature {
                block
                    .signature
                    .get_or_insert_with(String::new)
                    .push_str(&signature);
            }
        }
        if chunk.finish_reason.is_some() {
            self.finish_reason = chunk.finish_reason;
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage;
        }
        if chunk.cost_usd.is_some() {
            self.cost_usd = chunk.cost_usd;
        }
        self.provider = chunk.provider;
        self.model = chunk.model;
    }

    /// The response, naming `key_id` and taking `latency_ms`.
    pub fn finish(self, key_id: &str, latency_ms: f64) -> ChatResponse {
        ChatResponse {
            content: self.content,
            provider: self.provider,
            model: self.model,
            key_id: key_id.to_owned(),
            usage: self.usage,
            cost_usd: self.cost_usd,
            latency_ms,
            finish_reason: self.finish_reason,
            tool_calls: self.calls,
            reasoning: self
                .reasoning
                .map(ContentPart::reasoning)
                .into_iter()
                .collect(),
            refusal: None,
            raw: serde_json::Value::Null,
            passthrough: false,
        }
    }
}

impl ChatResponse {
    /// The response the chunks add up to (see [`ResponseCollector`]).
    pub fn from_chunks(chunks: impl IntoIterator<Item = StreamChunk>, key_id: &str) -> Self {
        let mut collector = ResponseCollector::default();
        for chunk in chunks {
            collector.push(chunk);
        }
        collector.finish(key_id, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn chunk() -> StreamChunk {
        StreamChunk {
            delta: String::new(),
            tool_calls: Vec::new(),
            reasoning: None,
            reasoning_signature: None,
            provider: "p".into(),
            model: "m".into(),
            ..StreamChunk::default()
        }
    }

    /// `text` cut at `cuts` (char positions, any order, repeats allowed).
    fn split(text: &str, cuts: &[usize]) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
        at.push(0);
        at.push(chars.len());
        at.sort_unstable();
        at.dedup();
        at.windows(2)
            .map(|w| chars[w[0]..w[1]].iter().collect())
            .collect()
    }

    proptest! {
        #[test]
        fn split_arguments_and_reasoning_reassemble(
            args in proptest::collection::vec("[ -~é]{0,40}", 1..4),
            thinking in "[ -~]{0,60}",
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let calls: Vec<ToolCall> = args
                .iter()
                .enumerate()
                .map(|(i, a)| ToolCall::new(format!("call_{i}"), "f", a.clone()))
                .collect();
            let mut chunks = Vec::new();
            for piece in split(&thinking, &cuts) {
                chunks.push(StreamChunk { reasoning: Some(piece), ..chunk() });
            }
            chunks.push(StreamChunk { reasoning_signature: Some("sig".into()), ..chunk() });
            for (i, call) in calls.iter().enumerate() {
                chunks.push(StreamChunk {
                    tool_calls: vec![ToolCallDelta { index: i as u32, id: Some(call.id.clone()), name: Some(call.name.clone()), arguments: String::new() }],
                    ..chunk()
                });
                for piece in split(&call.arguments, &cuts) {
                    chunks.push(StreamChunk {
                        tool_calls: vec![ToolCallDelta { index: i as u32, arguments: piece, ..ToolCallDelta::default() }],
                        ..chunk()
                    });
                }
            }
            chunks.push(StreamChunk { finish_reason: Some("tool_calls".into()), ..chunk() });
            let response = ChatResponse::from_chunks(chunks, "k");
            prop_assert_eq!(&response.tool_calls, &calls);
            prop_assert_eq!(response.finish_reason.as_deref(), Some("tool_calls"));
            let reasoning = response.reasoning[0].as_reasoning().unwrap();
            prop_assert_eq!(&reasoning.text, &thinking);
            prop_assert_eq!(reasoning.signature.as_deref(), Some("sig"));
            // the history turn: reasoning first, then the calls
            let turn = response.message();
            prop_assert_eq!(turn.content[0].kind(), crate::content::PartKind::Reasoning);
            prop_assert_eq!(turn.tool_calls().count(), calls.len());
        }
    }
}
