//! The stable centre of llm-rotate: types, config models, errors, the key health
//! machine, selection strategies, the call engine, and the two plug-in traits.
//!
//! What it is for: everything about rotating LLM traffic over many keys that can be
//! tested without a network: a custom [`provider::Provider`] or
//! [`store::StateStore`] depends on this crate alone. What it is not for: HTTP,
//! TLS, Redis or a runtime; those live in `rotate-providers`, `rotate-store` and the
//! `llm-rotate` facade, which is what applications depend on.
//!
//! ```
//! use rotate_core::health::{transition, HealthEvent, HealthPolicy, HealthState};
//! use rotate_core::report::KeyState;
//!
//! let policy = HealthPolicy::default();
//! let cooled = transition(HealthState::default(), HealthEvent::RateLimited { retry_after_ms: Some(2_000) }, 10_000, &policy);
//! assert_eq!(cooled.state, KeyState::CoolingDown);
//! assert!(!cooled.is_eligible(11_999));
//! assert!(cooled.is_eligible(12_000));
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod acquire;
pub mod affinity;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod content;
pub mod embed;
pub mod engine;
pub mod error;
pub mod generate;
pub mod health;
mod health_report;
mod key;
mod lease;
pub mod limit;
pub mod message;
pub mod model_id;
pub mod options;
mod outlier;
pub mod passthrough;
mod plan;
pub mod price;
pub mod provider;
pub mod report;
pub mod response;
pub mod secret;
mod select;
mod shared;
pub mod store;
pub mod strategy;
pub mod stream;
mod telemetry;
pub mod tool;
mod topology;
mod waiting;

pub use acquire::{AcquireContext, ReportedError};
pub use affinity::AffinityStats;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    DefaultsConfig, FallbackEntry, ForeignSection, KeyConfig, LMRotateConfig, Overrides,
    ProviderConfig, SecretSource, StateStoreConfig, StoreBackend, WireApi,
};
pub use content::{Content, ContentPart, PartKind};
pub use embed::{EmbedOptions, EmbedResponse};
pub use engine::{Engine, EngineBuilder};
pub use error::{
    Attempt, ConfigurationError, Disposition, ErrorKind, LMRotateError, NoAvailableKeyError,
    ProviderError, StoreError, VendorError,
};
pub use generate::GenerateContentRequest;
pub use message::{ChatMessage, Role, ToolOutput};
pub use options::{ChatOptions, GenerateOptions};
pub use passthrough::{Passthrough, WireDialect};
pub use report::{
    Counters, HealthReport, KeyHealth, KeyState, ProviderHealth, StoreHealth, UsageSummary,
};
pub use response::{ChatResponse, StreamChunk, Usage};
pub use secret::Secret;
pub use strategy::Strategy;
pub use stream::ChatStream;
pub use tool::{
    Reasoning, ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolResult, ToolSpec,
};
