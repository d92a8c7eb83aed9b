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
use crate::waiting::Waiting;

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
    /// Calls waiting for a key to come back.
    pub(crate) waiting: Waiting,
}

impl EngineInner {
    /// Re-reads a key's runtime into the current topology's index.
    pub(crate) fn refresh_key(&self, key_id: &str, now_ms: u64) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].index.refresh(k, now_ms);
            self.wake_if_eligible(&topology.providers[p].keys[k].runtime.health(), now_ms);
        }
    }

    /// Records that `key_id` served the affinity hashed `hash`, telling the other
    /// processes when that is news.
    pub(crate) fn remember_affinity(&self, hash: u64, key_id: &Arc<str>) {
        if self.affinity.remember(hash, key_id) {
            self.store.share_affinity(hash, key_id);
        }
    }

    /// Wakes a waiting call when `state` may serve at `now_ms`.
    pub(crate) fn wake_if_eligible(&self, state: &HealthState, now_ms: u64) {
        if state.is_eligible(now_ms) {
            self.waiting.wake();
        }
    }
}

impl StateListener for EngineInner {
    fn on_affinity(&self, hash: u64, key_id: &str) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            let id = topology.providers[p].keys[k].info.id_arc();
            self.affinity.remember(hash, id);
        }
    }

    fn on_state(&self, key_id: &str, state: HealthState) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].keys[k].runtime.install(state);
            let now = self.clock.unix_ms();
            topology.providers[p].index.refresh(k, now);
            self.wake_if_eligible(&state, now);
        }
    }
}
