//! Test support for llm-rotate (not published).
//!
//! What it is for: driving the engine and the facade in tests, benches and the demo
//! without a vendor. [`scripted::ScriptedProvider`] is an in-process
//! [`rotate_core::provider::Provider`] whose outcomes are scripted per key and which
//! logs every call; [`upstream::FakeUpstream`] is a real HTTP server on 127.0.0.1 that
//! speaks the vendors' wire protocols with behaviour scripted per API key. What it is
//! not for: production traffic.
#![forbid(unsafe_code)]

pub mod arbitrary;
pub mod harness;
pub mod health_table;
pub mod redis_server;
pub mod scripted;
pub mod upstream;

pub use harness::Harness;
pub use scripted::{CallRecord, ScriptedProvider, Step};
pub use upstream::{Api, Behavior, FakeUpstream, RecordedRequest};

/// A provider call for adapter tests: `messages` to `model` with a key of this value.
pub fn provider_call(
    provider: &str,
    model: &str,
    key_value: &str,
    request: rotate_core::provider::ChatRequest,
    metadata: &[(&str, &str)],
) -> rotate_core::provider::ProviderCall {
    use std::sync::Arc;
    let metadata = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    rotate_core::provider::ProviderCall {
        provider: Arc::from(provider),
        model: Arc::from(model),
        key: Arc::new(rotate_core::provider::KeyInfo::new(
            format!("id-of-{key_value}"),
            provider,
            rotate_core::secret::Secret::new(key_value),
            None,
            metadata,
        )),
        request: Arc::new(request),
    }
}
