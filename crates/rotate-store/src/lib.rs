//! State store backends for llm-rotate.
//!
//! What it is for: keeping key health, usage counters and rate windows behind
//! [`rotate_core::store::StateStore`]. [`MemoryStore`] (always available) keeps them in
//! this process, exact under any concurrency. What it is not for: choosing keys or
//! speaking to vendors (that is `rotate-core` and `rotate-providers`).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod memory;
pub mod usage;

pub use memory::MemoryStore;
