//! Per-call options: [`ChatOptions`] and [`GenerateOptions`].

use std::time::Duration;

use serde_json::{Map, Value};

use crate::passthrough::Passthrough;
use crate::tool::{ResponseFormat, ToolChoice, ToolSpec};

/// Options of `chat`, `chat_stream` and `chat_sync`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOptions {
    /// Call this provider only (upstream model: its alias for the model, or the model).
    pub provider: Option<String>,
    /// Output token cap.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Retries after transient failures (overrides provider and defaults).
    pub max_retries: Option<u32>,
    /// The longest the whole call may take, retries and fallback included (for a stream:
    /// until its first chunk); overrides `defaults.call_timeout_seconds`.
    pub timeout: Option<Duration>,
    /// How long the call may wait for a key to come back when none is eligible (a key
    /// cooling down for a few seconds, say), instead of failing with `NoAvailableKey`;
    /// overrides `defaults.max_wait_seconds`. The wait counts against `timeout`.
    pub max_wait: Option<Duration>,
    /// An affinity key (a session or conversation id): the call prefers the key that
    /// served this affinity last, while it is eligible, so the vendor's prompt cache is
    /// kept. Hashed, never stored whole.
    pub affinity: Option<String>,
    /// The client the call is made for (a tenant, a gateway token's id): its usage is
    /// also counted under `UsageSummary::by_client`, and its tokens and cost against its
    /// [`ClientLimits`](crate::limit::ClientLimits) windows.
    pub client: Option<String>,
    /// Tools the model may call (translated to each vendor's form).
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call.
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools in one answer.
    pub parallel_tool_calls: Option<bool>,
    /// The shape of the answer (free text, a JSON object, JSON matching a schema).
    pub response_format: Option<ResponseFormat>,
    /// Reasoning effort (`low`, `medium`, `high`, …) for vendors and models that take one.
    pub reasoning_effort: Option<String>,
    /// A thinking budget in tokens for vendors that take one.
    pub reasoning_budget_tokens: Option<u32>,
    /// Extra body fields (`top_p`, `stop`, vendor-specific ones), merged into the provider
    /// request as-is after the typed fields (an extra field wins over a typed one).
    pub extra: Map<String, Value>,
    /// The client's own body, sent unchanged to keys that speak its dialect (the
    /// gateway's lossless path); keys of other dialects get the neutral request.
    pub passthrough: Option<Passthrough>,
}

impl ChatOptions {
    /// Sets `provider`.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets `max_tokens`.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets `temperature`.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
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

    /// Sets `max_wait`, how long the call may wait for a key to come back.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// Sets `affinity`, the key the call prefers the last key of.
    pub fn affinity(mut self, affinity: impl Into<String>) -> Self {
        self.affinity = Some(affinity.into());
        self
    }

    /// Sets `client`.
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = Some(client.into());
        self
    }

    /// Adds a tool the model may call.
    pub fn tool(mut self, tool: ToolSpec) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets `tool_choice`.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Sets `parallel_tool_calls`.
    pub fn parallel_tool_calls(mut self, parallel: bool) -> Self {
        self.parallel_tool_calls = Some(parallel);
        self
    }

    /// Sets `response_format`.
    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = Some(format);
        self
    }

    /// Sets `reasoning_effort`.
    pub fn reasoning_effort(mut self, effort: impl Into<String>) -> Self {
        self.reasoning_effort = Some(effort.into());
        self
    }

    /// Sets `reasoning_budget_tokens`.
    pub fn reasoning_budget_tokens(mut self, tokens: u32) -> Self {
        self.reasoning_budget_tokens = Some(tokens);
        self
    }

    /// Adds one extra body field.
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// Options of `generate_content` and `generate_content_stream` (Google providers).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// `systemInstruction`.
    pub system_instruction: Option<String>,
    /// `generationConfig.responseMimeType`.
    pub response_mime_type: Option<String>,
    /// `generationConfig.maxOutputTokens`.
    pub max_output_tokens: Option<u32>,
    /// `generationConfig.temperature`.
    pub temperature: Option<f32>,
    /// `generationConfig.topP`.
    pub top_p: Option<f32>,
    /// `generationConfig.seed`.
    pub seed: Option<i64>,
    /// `generationConfig.thinkingConfig.thinkingBudget`.
    pub thinking_budget: Option<i32>,
    /// Keep tool calls as data (the library never executes functions). Default: true.
    pub disable_automatic_function_calling: bool,
    /// Retries after transient failures.
    pub max_retries: Option<u32>,
    /// Call this provider only (`google` or `vertex`).
    pub provider: Option<String>,
    /// The longest the whole call may take, retries and fallback included (for a stream:
    /// until its first chunk); overrides `defaults.call_timeout_seconds`.
    pub timeout: Option<Duration>,
    /// Extra body fields merged into the request (`response_schema` -> `responseSchema`).
    pub extra: Map<String, Value>,
    /// A Gemini body to send as it is instead of the one built from the contents (the
    /// gateway's lossless path); only its Gemini form is used.
    pub passthrough: Option<Passthrough>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            system_instruction: None,
            response_mime_type: None,
            max_output_tokens: None,
            temperature: None,
            top_p: None,
            seed: None,
            thinking_budget: None,
            disable_automatic_function_calling: true,
            max_retries: None,
            provider: None,
            timeout: None,
            extra: Map::new(),
            passthrough: None,
        }
    }
}

impl GenerateOptions {
    /// Sets `system_instruction`.
    pub fn system_instruction(mut self, text: impl Into<String>) -> Self {
        self.system_instruction = Some(text.into());
        self
    }

    /// Sets `response_mime_type`.
    pub fn response_mime_type(mut self, mime: impl Into<String>) -> Self {
        self.response_mime_type = Some(mime.into());
        self
    }

    /// Sets `max_output_tokens`.
    pub fn max_output_tokens(mut self, n: u32) -> Self {
        self.max_output_tokens = Some(n);
        self
    }

    /// Sets `temperature`.
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Sets `top_p`.
    pub fn top_p(mut self, p: f32) -> Self {
        self.top_p = Some(p);
        self
    }

    /// Sets `seed`.
    pub fn seed(mut self, seed: i64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets `thinking_budget`.
    pub fn thinking_budget(mut self, budget: i32) -> Self {
        self.thinking_budget = Some(budget);
        self
    }

    /// Sets `max_retries`.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Sets `provider`.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets `timeout`, the deadline of the whole call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds one extra body field.
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_defaults_keep_tool_calls_as_data() {
        assert!(GenerateOptions::default().disable_automatic_function_calling);
        let o = ChatOptions::default().max_tokens(5).extra("top_p", 0.5);
        assert_eq!(o.max_tokens, Some(5));
        assert_eq!(o.extra["top_p"], 0.5);
    }
}
