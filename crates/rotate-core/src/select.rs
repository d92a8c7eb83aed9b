//! Key selection: a per-provider index and the four strategies.
//!
//! Each provider keeps a bitset of keys that may serve (a hint; the truth is each
//! [`KeyRuntime`]), a min-heap of resting keys by wake-up time, and one [`Pool`] per
//! model allow-list. Selection finds the next set bit from a cursor, so its cost does
//! not grow with the number of keys while most keys are serving:
//!
//! - `round_robin`: the next serving key after the cursor, in configuration order;
//!   a skipped key keeps its place.
//! - `priority`: the lowest-priority tier that has a serving key; round-robin inside it.
//! - `weighted`: nginx's smooth weighted round-robin, computed per weight group
//!   (inside a group of equal weights nginx's choice is round-robin), so a pick costs
//!   O(distinct weights); over any window of sum(weights) picks each key gets exactly
//!   its weight.
//! - `health_aware`: two candidates (the round-robin one and a random one), the
//!   healthier wins, ties go to the round-robin one (so equal keys share evenly).
//!
//! Under slow start, the strategies with shares (`weighted`, `health_aware`) admit a key
//! back from a rest only with the probability of its ramp (see [`KeyRuntime::ramp`]),
//! so it takes a growing fraction of its share until the ramp ends.

mod bits;
mod pool;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use self::bits::Bits;
pub(crate) use self::pool::KeySpec;
use self::pool::{next_smooth_weighted, Cursor, Pool};

use crate::key::{Availability, KeyRuntime, NEVER};
use crate::strategy::Strategy;

/// Schedule steps the weighted strategy may skip (resting keys) before scanning.
const WEIGHTED_STEP_LIMIT: usize = 64;

/// The selection index of one provider's keys (positions are configuration order).
#[derive(Debug)]
pub(crate) struct ProviderIndex {
    runtimes: Box<[Arc<KeyRuntime>]>,
    available: Bits,
    wake: Mutex<BinaryHeap<Reverse<(u64, usize)>>>,
    next_wake: AtomicU64,
    pools: Box<[Pool]>,
    pool_by_model: HashMap<Box<str>, usize>,
    /// The slow-start ramp (0: off).
    slow_start_ms: u64,
}

impl ProviderIndex {
    pub(crate) fn new(
        runtimes: Vec<Arc<KeyRuntime>>,
        specs: &[KeySpec],
        now_ms: u64,
        slow_start_ms: u64,
    ) -> Self {
        let n = runtimes.len();
        let unrestricted: Vec<usize> = (0..n).filter(|&p| specs[p].models.is_empty()).collect();
        let mut pools = vec![Pool::new(&unrestricted, n, specs)];
        let mut pool_by_model = HashMap::new();
        let mut models: Vec<&str> = specs
            .iter()
            .flat_map(|s| s.models.iter().map(String::as_str))
            .collect();
        models.sort_unstable();
        models.dedup();
        for model in models {
            let members: Vec<usize> = (0..n)
                .filter(|&p| {
                    specs[p].models.is_empty() || specs[p].models.iter().any(|m| m == model)
                })
                .collect();
            pool_by_model.insert(Box::from(model), pools.len());
            pools.push(Pool::new(&members, n, specs));
        }
        let index = Self {
            available: Bits::new(n),
            runtimes: runtimes.into_boxed_slice(),
            wake: Mutex::new(BinaryHeap::new()),
            next_wake: AtomicU64::new(NEVER),
            pools: pools.into_boxed_slice(),
            pool_by_model,
            slow_start_ms,
        };
        for pos in 0..n {
            index.refresh(pos, now_ms);
        }
        index
    }

    /// The pool serving `model`.
    pub(crate) fn pool_for(&self, model: &str) -> usize {
        self.pool_by_model.get(model).copied().unwrap_or(0)
    }

    /// True when some key (whatever its state) may serve `model`.
    pub(crate) fn serves(&self, model: &str) -> bool {
        self.pools[self.pool_for(model)].len > 0
    }

    #[cfg(test)]
    fn runtime(&self, pos: usize) -> &Arc<KeyRuntime> {
        &self.runtimes[pos]
    }

    /// Re-reads a key's runtime after its state changed.
    pub(crate) fn refresh(&self, pos: usize, now_ms: u64) {
        match self.runtimes[pos].availability(now_ms) {
            Availability::Later(at) => self.rest(pos, at),
            Availability::No if self.runtimes[pos].is_disabled() => self.available.clear(pos),
            _ => self.available.set(pos),
        }
    }

    fn rest(&self, pos: usize, at: u64) {
        self.available.clear(pos);
        let mut heap = self.wake.lock();
        heap.push(Reverse((at, pos)));
        self.next_wake.fetch_min(at, Ordering::AcqRel);
    }

    /// Puts keys whose rest has ended back among the serving ones.
    fn wake_due(&self, now_ms: u64) {
        if now_ms < self.next_wake.load(Ordering::Acquire) {
            return;
        }
        let mut heap = self.wake.lock();
        while let Some(&Reverse((at, pos))) = heap.peek() {
            if at > now_ms {
                break;
            }
            heap.pop();
            match self.runtimes[pos].availability(now_ms) {
                Availability::Later(later) => heap.push(Reverse((later, pos))),
                Availability::No if self.runtimes[pos].is_disabled() => {}
                _ => self.available.set(pos),
            }
        }
        let next = heap.peek().map_or(NEVER, |Reverse((at, _))| *at);
        self.next_wake.store(next, Ordering::Release);
    }

    /// When the soonest resting key of `model`'s pool (not in `tried`) may serve again.
    pub(crate) fn soonest(&self, model: &str, now_ms: u64, tried: &[usize]) -> Option<u64> {
        self.wake_due(now_ms);
        let pool = &self.pools[self.pool_for(model)];
        let heap = self.wake.lock();
        heap.iter()
            .map(|Reverse((_, pos))| *pos)
            .filter(|&pos| !tried.contains(&pos) && pool.holds(pos))
            .filter_map(|pos| self.runtimes[pos].rest_until(now_ms))
            .min()
    }

    /// The panic threshold's pick when no key of `pool` is eligible: of the keys resting
    /// for transient faults (enabled, under their local budgets, not in `tried`), the one
    /// that failed least lately. Reads every key; called only when nothing else can serve.
    pub(crate) fn least_bad_resting(
        &self,
        pool: usize,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        let pool = &self.pools[pool];
        (0..self.runtimes.len())
            .filter(|&pos| !tried.contains(&pos) && pool.holds(pos))
            .filter(|&pos| {
                let runtime = &self.runtimes[pos];
                runtime.is_enabled()
                    && !runtime.budget_blocked(now_ms)
                    && runtime.rests_for_transient(now_ms)
            })
            .min_by_key(|&pos| {
                let runtime = &self.runtimes[pos];
                (runtime.failure_rate(), runtime.consecutive_failures(), pos)
            })
    }

    #[cfg(test)]
    fn count_available(&self, now_ms: u64) -> usize {
        self.runtimes
            .iter()
            .filter(|rt| {
                matches!(
                    rt.availability(now_ms),
                    Availability::Ready | Availability::Probe
                )
            })
            .count()
    }

    /// Checks a candidate without taking it.
    fn usable(&self, pos: usize, now_ms: u64, tried: &[usize]) -> Option<Availability> {
        if tried.contains(&pos) {
            return None;
        }
        match self.runtimes[pos].availability(now_ms) {
            a @ (Availability::Ready | Availability::Probe) => Some(a),
            Availability::Later(at) => {
                self.rest(pos, at);
                None
            }
            Availability::No => {
                if self.runtimes[pos].is_disabled() {
                    self.available.clear(pos);
                }
                None
            }
        }
    }

    /// The key's slow-start share at `now_ms` (1 when off or done).
    pub(crate) fn ramp(&self, pos: usize, now_ms: u64) -> f64 {
        self.runtimes[pos].ramp(now_ms, self.slow_start_ms)
    }

    /// True when the key at `pos` is admitted by its slow-start ramp (always when off).
    fn ramp_admits(&self, pos: usize, now_ms: u64, cursor: &mut Cursor) -> bool {
        if self.slow_start_ms == 0 {
            return true;
        }
        let share = self.ramp(pos, now_ms);
        share >= 1.0 || ((cursor.random() % 1_000) as f64) < share * 1_000.0
    }

    /// Takes a candidate: counts the call against the key's request window (refused
    /// when the window has nothing left; a key that takes its window's last request
    /// rests until the reset) and claims the probe when it is one.
    fn take(&self, pos: usize, availability: Availability, now_ms: u64) -> bool {
        let runtime = &self.runtimes[pos];
        let Some(last) = runtime.reserve_request(now_ms) else {
            self.refresh(pos, now_ms);
            return false;
        };
        if availability == Availability::Probe && !runtime.claim_probe() {
            runtime.release_request();
            return false;
        }
        if last {
            self.refresh(pos, now_ms);
        }
        true
    }

    /// The next usable key at or after `*from` (wrapping), moving `*from` past what was looked at.
    fn find(
        &self,
        from: usize,
        mask: Option<&[u64]>,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<(usize, Availability)> {
        let n = self.runtimes.len();
        let mut at = from;
        for _ in 0..n {
            let pos = self.available.next(at, n, mask)?;
            if let Some(a) = self.usable(pos, now_ms, tried) {
                return Some((pos, a));
            }
            at = pos + 1;
        }
        None
    }

    fn round_robin(
        &self,
        rr: &mut usize,
        mask: Option<&[u64]>,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        let mut from = *rr;
        for _ in 0..4 {
            let (pos, a) = self.find(from, mask, now_ms, tried)?;
            if self.take(pos, a, now_ms) {
                *rr = pos + 1;
                return Some(pos);
            }
            from = pos + 1;
        }
        None
    }

    /// Takes the key at `pos` when it belongs to `pool`, is not in `tried` and may serve
    /// now (the affinity pick: no strategy is consulted).
    pub(crate) fn select_pinned(
        &self,
        pool: usize,
        pos: usize,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        if pos >= self.runtimes.len() || !self.pools[pool].holds(pos) {
            return None;
        }
        self.wake_due(now_ms);
        let availability = self.usable(pos, now_ms, tried)?;
        self.take(pos, availability, now_ms).then_some(pos)
    }

    /// Picks a key of `pool` under `strategy`, skipping `tried` positions.
    pub(crate) fn select(
        &self,
        pool: usize,
        strategy: Strategy,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        self.wake_due(now_ms);
        let pool = &self.pools[pool];
        if pool.len == 0 {
            return None;
        }
        let mut cursor = pool.cursor.lock();
        let mask = pool.mask.as_deref();
        match strategy {
            Strategy::RoundRobin => self.round_robin(&mut cursor.rr, mask, now_ms, tried),
            Strategy::Priority => {
                let Cursor { tier_rr, .. } = &mut *cursor;
                pool.tiers
                    .iter()
                    .zip(tier_rr.iter_mut())
                    .find_map(|(tier, rr)| self.round_robin(rr, Some(tier), now_ms, tried))
            }
            Strategy::Weighted => self
                .weighted(pool, &mut cursor, now_ms, tried)
                .or_else(|| self.round_robin(&mut cursor.rr, mask, now_ms, tried)),
            Strategy::HealthAware => self.health_aware(pool, &mut cursor, now_ms, tried),
        }
    }

    fn weighted(
        &self,
        pool: &Pool,
        cursor: &mut Cursor,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        if pool.total_weight == 0 {
            return None;
        }
        for _ in 0..WEIGHTED_STEP_LIMIT.min(pool.total_weight as usize * 2) {
            let pos = next_smooth_weighted(pool, cursor);
            if let Some(a) = self.usable(pos, now_ms, tried) {
                if self.ramp_admits(pos, now_ms, cursor) && self.take(pos, a, now_ms) {
                    return Some(pos);
                }
            }
        }
        None
    }

    fn health_aware(
        &self,
        pool: &Pool,
        cursor: &mut Cursor,
        now_ms: u64,
        tried: &[usize],
    ) -> Option<usize> {
        let mask = pool.mask.as_deref();
        let n = self.runtimes.len();
        for _ in 0..4 {
            let (first, first_a) = self.find(cursor.rr, mask, now_ms, tried)?;
            cursor.rr = first + 1;
            let start = (cursor.random() % n as u64) as usize;
            let second = match self.find(start, mask, now_ms, tried) {
                Some((pos, _)) if pos == first => self
                    .find(first + 1, mask, now_ms, tried)
                    .filter(|(pos, _)| *pos != first),
                other => other,
            };
            let (pos, a) = match second {
                Some((pos, a)) if healthier(&self.runtimes[pos], &self.runtimes[first]) => (pos, a),
                _ => (first, first_a),
            };
            // a key ramping up after a rest may give way to the other candidate
            let (pos, a) = match second {
                Some(second) if !self.ramp_admits(pos, now_ms, cursor) => {
                    if pos == first {
                        second
                    } else {
                        (first, first_a)
                    }
                }
                _ => (pos, a),
            };
            if self.take(pos, a, now_ms) {
                return Some(pos);
            }
        }
        None
    }
}

/// True when `a` is clearly healthier than `b`: no recent failures, then lower expected
/// wait (latency × load, 25 % tolerance) or fewer calls in flight, then more headroom.
fn healthier(a: &KeyRuntime, b: &KeyRuntime) -> bool {
    let (fa, fb) = (a.consecutive_failures() > 0, b.consecutive_failures() > 0);
    if fa != fb {
        return !fa;
    }
    let (la, lb) = (u64::from(a.in_flight()) + 1, u64::from(b.in_flight()) + 1);
    match (a.latency_us(), b.latency_us()) {
        (Some(x), Some(y)) => {
            let (ca, cb) = (x.saturating_mul(la), y.saturating_mul(lb));
            if ca.saturating_mul(4) < cb.saturating_mul(3) {
                return true;
            }
            if cb.saturating_mul(4) < ca.saturating_mul(3) {
                return false;
            }
        }
        _ if la != lb => return la < lb,
        _ => {}
    }
    a.headroom_permille() > b.headroom_permille() + 100
}

#[cfg(test)]
mod tests;
