//! Spread LLM traffic over many API keys and providers without noticing rate limits,
//! dead keys or outages.
//!
//! llm-rotate picks a key for every call (round-robin, priority, smooth weighted, or
//! health-aware), cools a key down on a 429, quarantines keys that keep failing, retries
//! on other keys and falls back across providers and models. Key health can be shared
//! by many processes through a state store.
//!
//! This crate is the facade applications depend on:
//!
//! ```no_run
//! use llm_rotate::{configure_from_dict, ChatMessage, ChatOptions, LMRotate, Overrides};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let registry = serde_json::json!({
//!         "keys": [
//!             {"id": "openai-1", "provider": "openai", "env": "OPENAI_KEY_1"},
//!             {"id": "openai-2", "provider": "openai", "env": "OPENAI_KEY_2"},
//!             {"id": "claude-1", "provider": "anthropic", "env": "ANTHROPIC_KEY"}
//!         ],
//!         "fallback_chains": {"smart": [
//!             {"provider": "openai", "upstream": "gpt-4o"},
//!             {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
//!         ]}
//!     });
//!     let config = configure_from_dict(registry, ["openai-1", "openai-2", "claude-1"], Overrides::default())?;
//!     let client = LMRotate::new(config)?;
//!     let reply = client.chat("smart", &[ChatMessage::user("Hello!")], ChatOptions::default()).await?;
//!     println!("{} (via {} key {})", reply.content, reply.provider, reply.key_id);
//!     Ok(())
//! }
//! ```
//!
//! Configs come from [`configure_from_file`] (JSON, YAML, TOML, `${VAR}`, `LLM_ROTATE_`
//! environment overrides) or [`configure_from_dict`]. Secrets never print:
//!
//! ```
//! let config = llm_rotate::configure_from_dict(
//!     serde_json::json!({"keys": [{"id": "a", "provider": "openai", "value": "sk-test-1111111111111111"}]}),
//!     ["a"],
//!     llm_rotate::Overrides::default(),
//! )?;
//! assert!(!format!("{config:?}").contains("sk-test-1111"));
//! # Ok::<(), llm_rotate::ConfigurationError>(())
//! ```
//!
//! Features: `yaml` (default: YAML config files), `toml` (TOML config files), `blocking`
//! (default: [`LMRotate::chat_sync`]), `google` (default: Gemini on AI Studio and Vertex,
//! [`LMRotate::generate_content`]), `redis` (the Redis state store shared by many
//! processes).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "blocking")]
mod blocking;
mod client;
mod global;
mod load;

pub use client::{LMRotate, LMRotateBuilder};
pub use global::{configure, lm, try_lm, ConfigureOptions};
pub use load::{configure_from_dict, configure_from_file, parse_document, ENV_PREFIX};
pub use rotate_core::config::{
    DefaultsConfig, FallbackEntry, ForeignSection, KeyConfig, LMRotateConfig, Overrides,
    ProviderConfig, SecretSource, ServedModel, StateStoreConfig, StoreBackend, WireApi,
};
pub use rotate_core::response::ResponseCollector;
pub use rotate_core::GenerateContentRequest;
pub use rotate_core::{
    AcquireContext, AffinityStats, Attempt, ChatMessage, ChatOptions, ChatResponse, ChatStream,
    Clock, ConfigurationError, Content, ContentPart, Counters, EmbedOptions, EmbedResponse,
    ErrorKind, GenerateOptions, HealthReport, KeyHealth, KeyState, LMRotateError, ManualClock,
    NoAvailableKeyError, PartKind, Passthrough, ProviderError, ProviderHealth, Reasoning,
    ReportedError, ResponseFormat, Role, Secret, StoreHealth, Strategy, StreamChunk, SystemClock,
    ToolCall, ToolCallDelta, ToolChoice, ToolOutput, ToolResult, ToolSpec, Usage, UsageSummary,
    WireDialect,
};
pub use rotate_providers::{HttpClient, HttpClientBuilder};
pub use secrecy::{ExposeSecret, SecretString};

/// The plug-in surface for custom providers and stores (the whole of `rotate-core`).
pub use rotate_core as core;

/// The facade crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Rust examples of the README and the user guides, compiled as doctests.
#[cfg(doctest)]
mod guide_examples {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/advanced.md")]
    struct Advanced;
    #[doc = include_str!("../../../docs/conversations.md")]
    struct Conversations;
    #[cfg(feature = "google")]
    #[doc = include_str!("../../../docs/google-multimodal.md")]
    struct GoogleMultimodal;
}
