//! Prompt-cache affinity: which key served an affinity key last.
//!
//! Vendors cache prompt prefixes per organisation or key, so a conversation that keeps
//! going to the same key keeps its cache. A call that names an affinity key (a session
//! id, `prompt_cache_key`, a Responses `previous_response_id`) prefers the key recorded
//! for it while that key is eligible, and fails over like any call when it is not.
//!
//! Affinity keys are hashed (a stable 64-bit FNV-1a, so every process agrees on a
//! hash) and never stored whole; the map is bounded: two generations of at most half
//! the capacity each, the older one dropped whole when the newer fills, and a hit in the
//! older one moved to the newer. So memory stays under [`AFFINITY_CAPACITY`] entries and
//! the keys used lately survive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The most affinity keys remembered at once.
pub const AFFINITY_CAPACITY: usize = 65_536;

/// The stable hash an affinity key is remembered by.
pub fn affinity_hash(affinity: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    affinity.as_bytes().iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// How affinity fared in this process since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AffinityStats {
    /// Calls with an affinity key that went to the key recorded for it.
    pub hits: u64,
    /// Calls with an affinity key that had no eligible recorded key.
    pub misses: u64,
    /// Affinity keys remembered now.
    pub entries: u64,
}

#[derive(Debug, Default)]
struct Generations {
    newer: HashMap<u64, Arc<str>>,
    older: HashMap<u64, Arc<str>>,
}

/// The bounded map of affinity hash -> key id, with its hit and miss counts.
#[derive(Debug)]
pub(crate) struct AffinityMap {
    generations: Mutex<Generations>,
    half: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for AffinityMap {
    fn default() -> Self {
        Self::with_capacity(AFFINITY_CAPACITY)
    }
}

impl AffinityMap {
    /// A map holding at most `capacity` entries (at least two).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            generations: Mutex::new(Generations::default()),
            half: (capacity / 2).max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key id recorded for `hash`, if any (a hit in the older generation moves it
    /// to the newer one).
    pub(crate) fn get(&self, hash: u64) -> Option<Arc<str>> {
        let mut generations = self.generations.lock();
        if let Some(id) = generations.newer.get(&hash) {
            return Some(id.clone());
        }
        let id = generations.older.remove(&hash)?;
        Self::insert_into(&mut generations, self.half, hash, id.clone());
        Some(id)
    }

    /// The key id recorded for `hash`, leaving the generations as they are.
    pub(crate) fn peek(&self, hash: u64) -> Option<Arc<str>> {
        let generations = self.generations.lock();
        generations
            .newer
            .get(&hash)
            .or_else(|| generations.older.get(&hash))
            .cloned()
    }

    /// Records that `key_id` served `hash`; true when that is news (a new affinity, or
    /// another key than the one recorded).
    pub(crate) fn remember(&self, hash: u64, key_id: &Arc<str>) -> bool {
        let mut generations = self.generations.lock();
        if generations
            .newer
            .get(&hash)
            .is_some_and(|id| Arc::ptr_eq(id, key_id) || **id == **key_id)
        {
            return false;
        }
        let older = generations.older.remove(&hash);
        Self::insert_into(&mut generations, self.half, hash, key_id.clone());
        older.is_none_or(|id| *id != **key_id)
    }

    fn insert_into(generations: &mut Generations, half: usize, hash: u64, id: Arc<str>) {
        if generations.newer.len() >= half && !generations.newer.contains_key(&hash) {
            generations.older = std::mem::take(&mut generations.newer);
        }
        generations.newer.insert(hash, id);
    }

    /// Counts one call that found its recorded key (`hit`) or did not.
    pub(crate) fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts and the number of entries.
    pub(crate) fn stats(&self) -> AffinityStats {
        let generations = self.generations.lock();
        AffinityStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: (generations.newer.len() + generations.older.len()) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_and_tells_keys_apart() {
        // FNV-1a's published test vectors: every process must agree on a hash
        assert_eq!(affinity_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(affinity_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(affinity_hash("session-1"), affinity_hash("session-2"));
    }

    #[test]
    fn remembers_the_latest_key_of_each_affinity() {
        let map = AffinityMap::with_capacity(8);
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        assert!(map.remember(1, &a), "a new affinity is news");
        assert!(map.remember(2, &b));
        assert!(!map.remember(2, &b), "the same key again is not");
        assert!(map.remember(1, &b), "another key is");
        assert_eq!(map.get(1).as_deref(), Some("b"));
        assert_eq!(map.get(2).as_deref(), Some("b"));
        assert_eq!(map.get(3), None);
    }

    #[test]
    fn memory_stays_bounded_and_recent_entries_survive() {
        let map = AffinityMap::with_capacity(4);
        let id: Arc<str> = Arc::from("k");
        for hash in 0..1_000 {
            map.remember(hash, &id);
            // one affinity used all along is never forgotten
            map.remember(5_000, &id);
            assert!(map.get(5_000).is_some(), "lost the busy affinity at {hash}");
            assert!(map.stats().entries <= 4, "{:?}", map.stats());
        }
        assert!(map.get(999).is_some());
        assert!(map.get(0).is_none());
    }

    #[test]
    fn counts_hits_and_misses() {
        let map = AffinityMap::default();
        map.count(true);
        map.count(false);
        map.count(false);
        let stats = map.stats();
        assert_eq!((stats.hits, stats.misses), (1, 2));
    }
}
