//! The in-process store: the default backend.
//!
//! Each key's state sits behind its own small lock, so a transition is atomic and keys
//! never contend with each other; usage counters are atomics; rate windows are fixed
//! calendar windows (minute, day) counted under one short lock, and so are client limits.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rotate_core::error::StoreError;
use rotate_core::health::{transition, HealthEvent, HealthPolicy, HealthState};
use rotate_core::limit::{ClientLimits, LimitExceeded};
use rotate_core::provider::BoxFuture;
use rotate_core::report::UsageSummary;
use rotate_core::store::{RateWindow, StateStore, UsageRecord};

use crate::limits::LimitTable;
use crate::usage::UsageTable;

/// Key health, usage and rate windows of this process.
///
/// ```
/// use rotate_core::health::{HealthEvent, HealthPolicy};
/// use rotate_core::report::KeyState;
/// use rotate_core::store::StateStore;
/// use rotate_store::MemoryStore;
///
/// let store = MemoryStore::new();
/// let state = store.apply("key-1", HealthEvent::AuthFailed, 1_000, &HealthPolicy::default());
/// assert_eq!(state.state, KeyState::Quarantined);
/// assert_eq!(store.state("key-1"), state);
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    states: RwLock<HashMap<Arc<str>, Arc<Mutex<HealthState>>>>,
    usage: UsageTable,
    limits: LimitTable,
    windows: Mutex<HashMap<(Arc<str>, RateWindow), WindowCount>>,
}

/// A rate window's start (ms since the epoch) and its count so far.
type WindowCount = (u64, u64);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn cell(&self, key_id: &str) -> Arc<Mutex<HealthState>> {
        if let Some(cell) = self.states.read().get(key_id) {
            return cell.clone();
        }
        self.states
            .write()
            .entry(Arc::from(key_id))
            .or_default()
            .clone()
    }

    /// Replaces a key's state (used by shared backends to mirror remote transitions).
    pub fn install(&self, key_id: &str, state: HealthState) {
        *self.cell(key_id).lock() = state;
    }

    /// Raises a rate window's count to `total` (a shared store's fleet-wide count), if
    /// that window is still the current one.
    pub fn raise_window(&self, key_id: &str, window: RateWindow, start_ms: u64, total: u64) {
        let mut windows = self.windows.lock();
        let slot = windows
            .entry((Arc::from(key_id), window))
            .or_insert((start_ms, 0));
        if slot.0 < start_ms {
            *slot = (start_ms, 0);
        }
        if slot.0 == start_ms {
            slot.1 = slot.1.max(total);
        }
    }

    /// The usage table, for backends that build on this one.
    pub fn usage_table(&self) -> &UsageTable {
        &self.usage
    }

    /// The client limit counters, for backends that build on this one.
    pub fn limit_table(&self) -> &LimitTable {
        &self.limits
    }
}

impl StateStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn state(&self, key_id: &str) -> HealthState {
        self.states
            .read()
            .get(key_id)
            .map(|cell| *cell.lock())
            .unwrap_or_default()
    }

    fn apply(
        &self,
        key_id: &str,
        event: HealthEvent,
        now_ms: u64,
        policy: &HealthPolicy,
    ) -> HealthState {
        let cell = self.cell(key_id);
        let mut state = cell.lock();
        *state = transition(*state, event, now_ms, policy);
        *state
    }

    fn record(&self, record: &UsageRecord<'_>) {
        self.usage.add(record);
        self.limits.record(record);
    }

    fn admit_client<'a>(
        &'a self,
        client: &'a str,
        limits: &'a ClientLimits,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), LimitExceeded>> {
        Box::pin(async move { self.limits.admit(client, limits, now_ms) })
    }

    fn count_window(&self, key_id: &str, window: RateWindow, amount: u64, now_ms: u64) -> u64 {
        let start = window.start_ms(now_ms);
        let mut windows = self.windows.lock();
        let slot = windows
            .entry((Arc::from(key_id), window))
            .or_insert((start, 0));
        if slot.0 != start {
            *slot = (start, 0);
        }
        slot.1 += amount;
        slot.1
    }

    fn usage(&self) -> BoxFuture<'_, Result<UsageSummary, StoreError>> {
        Box::pin(async move { Ok(self.usage.summary()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::limit::LimitKind;
    use rotate_core::response::Usage;

    #[test]
    fn rate_windows_reset_at_window_boundaries() {
        let store = MemoryStore::new();
        assert_eq!(store.count_window("k", RateWindow::Minute, 1, 60_000), 1);
        assert_eq!(store.count_window("k", RateWindow::Minute, 2, 119_999), 3);
        assert_eq!(store.count_window("k", RateWindow::Minute, 1, 120_000), 1);
        assert_eq!(store.count_window("k", RateWindow::Day, 5, 120_000), 5);
    }

    #[test]
    fn usage_is_exact_under_concurrency() {
        let store = Arc::new(MemoryStore::new());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let key = format!("k{}", i % 4);
                        store.record(&UsageRecord {
                            key_id: &key,
                            provider: "p",
                            model: "m",
                            upstream_provider: None,
                            success: (i + t) % 5 != 0,
                            usage: Usage::new(2, 3),
                            cost_nano_usd: 7,
                            client: Some(if t % 2 == 0 { "even" } else { "odd" }),
                            at_ms: 1_000,
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = store.usage.summary();
        assert_eq!(s.total.requests, 8000);
        assert_eq!(s.total.successes + s.total.failures, 8000);
        assert_eq!(s.total.failures, 1600);
        assert_eq!(s.total.total_tokens, 6400 * 5);
        assert_eq!(s.total.cost_nano_usd, 6400 * 7, "only successes cost");
        assert_eq!(s.by_key.values().map(|c| c.requests).sum::<u64>(), 8000);
        assert_eq!(s.by_provider["p"].requests, 8000);
        assert_eq!(s.by_client["even"].requests, 4000);
        assert_eq!(s.by_client["odd"].successes, 3200);
        // the tokens of successes count in the clients' minute windows, exactly
        let tokens = |client| store.limits.used(client, LimitKind::Tokens, 1_000);
        assert_eq!(tokens("even") + tokens("odd"), 6400 * 5);
    }

    #[test]
    fn transitions_are_atomic_under_concurrency() {
        let store = Arc::new(MemoryStore::new());
        let policy = HealthPolicy {
            max_consecutive_failures: 1_000_000,
            ..HealthPolicy::default()
        };
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        store.apply("k", HealthEvent::TransientFailure, 0, &policy);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.state("k").consecutive_failures, 8000);
    }
}
