//! Spread LLM traffic over many API keys and providers without noticing rate limits,
//! dead keys or outages.
//!
//! llm-rotate picks a key for every call (round-robin, priority, smooth weighted, or
//! health-aware), cools a key down on a 429, quarantines keys that keep failing, retries
//! on other keys and falls back across providers and models. Key health can be shared
//! by many processes through a state store.
//!
//! This crate is the facade applications depend on. Building a config:
//!
//! ```
//! use llm_rotate::{configure_from_dict, Overrides};
//!
//! let registry = serde_json::json!({
//!     "defaults": {"selection_strategy": "health_aware", "max_retries": 2},
//!     "keys": [
//!         {"id": "openai-1", "provider": "openai", "value": "sk-test-1111111111111111"},
//!         {"id": "openai-2", "provider": "openai", "value": "sk-test-2222222222222222"},
//!         {"id": "claude-1", "provider": "anthropic", "value": "sk-ant-test-3333333333"}
//!     ],
//!     "fallback_chains": {"smart": [
//!         {"provider": "openai", "upstream": "gpt-4o"},
//!         {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
//!     ]}
//! });
//! let config = configure_from_dict(registry, ["openai-1", "openai-2", "claude-1"], Overrides::default())?;
//! assert_eq!(config.keys.len(), 3);
//! // Secrets never print:
//! assert!(!format!("{config:?}").contains("sk-test-1111"));
//! # Ok::<(), llm_rotate::ConfigurationError>(())
//! ```
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
    DefaultsConfig, FallbackEntry, KeyConfig, LMRotateConfig, Overrides, ProviderConfig,
    StateStoreConfig, StoreBackend, WireApi,
};
pub use rotate_core::{
    AcquireContext, Attempt, ChatMessage, ChatOptions, ChatResponse, ChatStream, Clock,
    ConfigurationError, Content, ContentPart, Counters, ErrorKind, GenerateOptions, HealthReport,
    KeyHealth, KeyState, LMRotateError, ManualClock, NoAvailableKeyError, PartKind, ProviderError,
    ProviderHealth, ReportedError, Role, Secret, StoreHealth, Strategy, StreamChunk, SystemClock,
    Usage, UsageSummary,
};
pub use rotate_providers::{HttpClient, HttpClientBuilder};
pub use secrecy::{ExposeSecret, SecretString};

/// The plug-in surface for custom providers and stores (the whole of `rotate-core`).
pub use rotate_core as core;

/// The facade crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
