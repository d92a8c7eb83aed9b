//! The `StateStore` plug-in trait: where key health, usage and rate windows live.
//!
//! A store knows no protocol and no selection policy. It applies health transitions
//! atomically (with [`crate::health::transition`]), counts usage exactly, keeps rate
//! windows, and tells a [`StateListener`] about transitions made elsewhere (other
//! processes sharing a Redis namespace). The hot-path methods are synchronous and must
//! not wait on the network: shared backends keep a local view and write behind.

use std::sync::{Arc, Weak};

use crate::error::StoreError;
use crate::health::{HealthEvent, HealthPolicy, HealthState};
use crate::limit::{ClientLimits, LimitExceeded};
use crate::provider::BoxFuture;
use crate::report::UsageSummary;
use crate::response::Usage;

/// One attempt's contribution to the usage counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageRecord<'a> {
    /// The key used.
    pub key_id: &'a str,
    /// Its provider.
    pub provider: &'a str,
    /// The upstream model id.
    pub model: &'a str,
    /// The upstream provider an aggregator or `acquire` caller named.
    pub upstream_provider: Option<&'a str>,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// Tokens (successes only).
    pub usage: Usage,
    /// What the attempt cost, in nano-dollars (successes of priced models only).
    pub cost_nano_usd: u64,
    /// The client the call was made for ([`ChatOptions::client`](crate::options::ChatOptions::client)):
    /// its usage is counted by client too, and its tokens and cost added to its limit
    /// windows.
    pub client: Option<&'a str>,
    /// When the attempt ended (Unix milliseconds): the limit windows it counts in.
    pub at_ms: u64,
}

/// A fixed rate window for local budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateWindow {
    /// Calendar minute (UTC).
    Minute,
    /// Calendar day (UTC).
    Day,
}

impl RateWindow {
    /// The window's length in milliseconds.
    pub fn len_ms(self) -> u64 {
        match self {
            Self::Minute => 60_000,
            Self::Day => 86_400_000,
        }
    }

    /// When the window containing `now_ms` started.
    pub fn start_ms(self, now_ms: u64) -> u64 {
        now_ms - now_ms % self.len_ms()
    }

    /// `minute` or `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Day => "day",
        }
    }
}

/// Hears about transitions applied elsewhere.
pub trait StateListener: Send + Sync {
    /// `key_id` is now in `state`.
    fn on_state(&self, key_id: &str, state: HealthState);

    /// Another process's call with the affinity hashed `hash` was served by `key_id`.
    fn on_affinity(&self, hash: u64, key_id: &str) {
        let _ = (hash, key_id);
    }
}

/// A backend for shared state. Object-safe; hold it as `Arc<dyn StateStore>`.
pub trait StateStore: Send + Sync + 'static {
    /// `memory`, `redis`, …
    fn backend(&self) -> &'static str;

    /// False while a shared backend cannot be reached.
    fn connected(&self) -> bool {
        true
    }

    /// The key's state in this process's view.
    fn state(&self, key_id: &str) -> HealthState;

    /// Applies `event` atomically and returns the new state (in this process's view; a
    /// shared backend also applies it remotely).
    fn apply(
        &self,
        key_id: &str,
        event: HealthEvent,
        now_ms: u64,
        policy: &HealthPolicy,
    ) -> HealthState;

    /// Counts one attempt. Must be exact under any concurrency.
    fn record(&self, record: &UsageRecord<'_>);

    /// Adds `amount` to the key's current `window` and returns the window's total.
    fn count_window(&self, key_id: &str, window: RateWindow, amount: u64, now_ms: u64) -> u64;

    /// Admits one request of `client` under `limits`: refused when any of the client's
    /// windows has reached its limit (see [`crate::limit`]), else counted in its
    /// requests window. Atomic across every process sharing the store; a shared backend
    /// that cannot be reached decides from this process's counts.
    fn admit_client<'a>(
        &'a self,
        client: &'a str,
        limits: &'a ClientLimits,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), LimitExceeded>>;

    /// Tells the other processes that `key_id` served the affinity hashed `hash` (best
    /// effort; a process-local backend has no one to tell).
    fn share_affinity(&self, hash: u64, key_id: &Arc<str>) {
        let _ = (hash, key_id);
    }

    /// Registers who hears about transitions made elsewhere.
    fn set_listener(&self, listener: Weak<dyn StateListener>) {
        let _ = listener;
    }

    /// The usage counters (shared ones for a shared backend).
    fn usage(&self) -> BoxFuture<'_, Result<UsageSummary, StoreError>>;

    /// The states of `key_ids` (shared ones for a shared backend).
    fn states(
        &self,
        key_ids: Vec<Arc<str>>,
    ) -> BoxFuture<'_, Result<Vec<HealthState>, StoreError>> {
        Box::pin(async move { Ok(key_ids.iter().map(|id| self.state(id)).collect()) })
    }

    /// Writes out everything pending.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
