//! Usage counters that many threads bump at once without losing an update.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rotate_core::report::{Counters, UsageSummary};
use rotate_core::store::UsageRecord;

/// One set of counters, updated with atomic adds.
#[derive(Debug, Default)]
pub struct AtomicCounters {
    requests: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    total_tokens: AtomicU64,
    cost_nano_usd: AtomicU64,
}

impl AtomicCounters {
    /// Adds one attempt.
    pub fn add(&self, record: &UsageRecord<'_>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if record.success {
            self.successes.fetch_add(1, Ordering::Relaxed);
            self.prompt_tokens
                .fetch_add(record.usage.prompt_tokens, Ordering::Relaxed);
            self.completion_tokens
                .fetch_add(record.usage.completion_tokens, Ordering::Relaxed);
            self.total_tokens
                .fetch_add(record.usage.total_tokens, Ordering::Relaxed);
            self.cost_nano_usd
                .fetch_add(record.cost_nano_usd, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> Counters {
        Counters {
            requests: self.requests.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.completion_tokens.load(Ordering::Relaxed),
            total_tokens: self.total_tokens.load(Ordering::Relaxed),
            cost_nano_usd: self.cost_nano_usd.load(Ordering::Relaxed),
        }
    }
}

/// Counters by name, created on first use.
#[derive(Debug, Default)]
struct CounterMap {
    map: RwLock<HashMap<Arc<str>, Arc<AtomicCounters>>>,
}

impl CounterMap {
    fn add(&self, name: &str, record: &UsageRecord<'_>) {
        if let Some(counters) = self.map.read().get(name) {
            counters.add(record);
            return;
        }
        let counters = self.map.write().entry(Arc::from(name)).or_default().clone();
        counters.add(record);
    }

    fn snapshot(&self) -> BTreeMap<String, Counters> {
        self.map
            .read()
            .iter()
            .map(|(name, counters)| (name.to_string(), counters.snapshot()))
            .collect()
    }
}

/// Usage by total, provider, key, model, upstream provider and client.
#[derive(Debug, Default)]
pub struct UsageTable {
    total: AtomicCounters,
    by_provider: CounterMap,
    by_key: CounterMap,
    by_model: CounterMap,
    by_upstream_provider: CounterMap,
    by_client: CounterMap,
}

impl UsageTable {
    /// Counts one attempt everywhere it belongs.
    pub fn add(&self, record: &UsageRecord<'_>) {
        self.total.add(record);
        self.by_provider.add(record.provider, record);
        self.by_key.add(record.key_id, record);
        self.by_model.add(record.model, record);
        if let Some(upstream) = record.upstream_provider {
            self.by_upstream_provider.add(upstream, record);
        }
        if let Some(client) = record.client {
            self.by_client.add(client, record);
        }
    }

    /// The counters as a summary.
    pub fn summary(&self) -> UsageSummary {
        UsageSummary {
            total: self.total.snapshot(),
            by_provider: self.by_provider.snapshot(),
            by_key: self.by_key.snapshot(),
            by_model: self.by_model.snapshot(),
            by_upstream_provider: self.by_upstream_provider.snapshot(),
            by_client: self.by_client.snapshot(),
            local_only: false,
        }
    }
}
