//! State store backends for llm-rotate.
//!
//! What it is for: keeping key health, usage counters and rate windows behind
//! [`rotate_core::store::StateStore`]. [`MemoryStore`] (always available) keeps them in
//! this process, exact under any concurrency; [`RedisStore`] (feature `redis`) shares
//! them between processes through Redis. What it is not for: choosing keys or
//! speaking to vendors (that is `rotate-core` and `rotate-providers`).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod limits;
pub mod memory;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod usage;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
