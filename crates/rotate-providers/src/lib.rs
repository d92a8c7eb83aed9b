//! The HTTP layer of llm-rotate: one pooled client per provider, one SSE decoder for
//! every vendor, rate-limit header parsing, error classification, and one adapter per
//! wire protocol (OpenAI-compatible, Azure included, and Anthropic).
//!
//! What it is for: turning a neutral [`rotate_core::provider::ProviderCall`] into an
//! HTTP exchange and the answer into a reply, a stream, or a classified
//! [`rotate_core::error::ProviderError`]. What it is not for: key health or selection
//! (adapters know nothing of either).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
mod anthropic;
#[cfg(feature = "bedrock")]
mod bedrock;
pub mod client;
pub mod credentials;
pub mod errors;
pub mod events;
#[cfg(feature = "bedrock")]
pub mod eventstream;
mod factory;
pub mod json;
mod openai;
pub mod ratelimit;
pub mod request;
pub mod sse;
mod tool_blocks;
pub mod url;

pub use adapter::{Adapter, Timeouts, WireProtocol};
pub use anthropic::{AnthropicStream, AnthropicWire, VERTEX_ANTHROPIC_VERSION};
pub use client::{HttpClient, HttpClientBuilder};
pub use credentials::Credentials;
pub use factory::HttpAdapterFactory;
pub use openai::{OpenAiStream, OpenAiWire, DEFAULT_AZURE_API_VERSION};
