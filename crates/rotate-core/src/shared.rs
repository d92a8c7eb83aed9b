//! The engine's shared state: the topology in force, the state store, the clock and the
//! adapters registered in code. Leases report outcomes into it, the store's listener
//! installs other processes' transitions through it, and the `Engine` is a
//! cheap handle to it.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::affinity::AffinityMap;
use crate::clock::Clock;
use crate::health::HealthState;
use crate::provider::{AdapterFactory, Provider};
use crate::store::{StateListener, StateStore};
use crate::topology::Topology;

/// Everything an engine and its clones share.
pub(crate) struct EngineInner {
    pub(crate) topology: ArcSwap<Topology>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) custom: HashMap<String, Arc<dyn Provider>>,
    pub(crate) factory: Option<Arc<dyn AdapterFactory>>,
    pub(crate) closed: AtomicBool,
    pub(crate) reload: Mutex<()>,
    /// Which key served each affinity key last.
    pub(crate) affinity: AffinityMap,
}

impl EngineInner {
    /// Re-reads a key's runtime into the current topology's index.
    pub(crate) fn refresh_key(&self, key_id: &str, now_ms: u64) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].index.refresh(k, now_ms);
        }
    }
}

impl StateListener for EngineInner {
    fn on_state(&self, key_id: &str, state: HealthState) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].keys[k].runtime.install(state);
            topology.providers[p].index.refresh(k, self.clock.unix_ms());
        }
    }
}
