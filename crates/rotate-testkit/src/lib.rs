//! Test support for llm-rotate (not published).
//!
//! What it is for: driving the engine and the facade in tests, benches and the demo
//! without a vendor. [`scripted::ScriptedProvider`] is an in-process
//! [`rotate_core::provider::Provider`] whose outcomes are scripted per key and which
//! logs every call. What it is not for: production traffic.
#![forbid(unsafe_code)]

pub mod harness;
pub mod scripted;

pub use harness::Harness;
pub use scripted::{CallRecord, ScriptedProvider, Step};
