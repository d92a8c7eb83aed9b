//! A key's live, per-process state: what selection reads without locks.
//!
//! The store holds the authoritative [`HealthState`]; [`KeyRuntime`] mirrors the part
//! selection needs in atomics (when the key may serve, whether a probe is open) and
//! keeps what only this process knows (in-flight calls, latency, headroom, last error).
//! A runtime outlives config reloads: keys whose id survives keep it.

mod window;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use parking_lot::Mutex;

use self::window::{RequestWindow, Reservation};
use crate::health::HealthState;
use crate::report::KeyState;

const PROBE_NONE: u8 = 0;
const PROBE_OPEN: u8 = 1;
const PROBE_CLAIMED: u8 = 2;

/// Never available (disabled).
pub(crate) const NEVER: u64 = u64::MAX;

/// The share a key gets as slow start begins (a tenth of its full share).
pub(crate) const SLOW_START_FLOOR: f64 = 0.1;

/// Whether a key may serve now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Serves now.
    Ready,
    /// Serves now, as the probe after a quarantine (only one caller may take it).
    Probe,
    /// Not before this time (ms since the epoch).
    Later(u64),
    /// Busy with its probe, or disabled.
    No,
}

/// The live state of one key in this process.
#[derive(Debug, Default)]
pub(crate) struct KeyRuntime {
    health: Mutex<HealthState>,
    available_at: AtomicU64,
    budget_until: AtomicU64,
    probe: AtomicU8,
    in_flight: AtomicU32,
    consecutive_failures: AtomicU32,
    ewma_us: AtomicU64,
    failure_rate: AtomicU32,
    last_failed: AtomicBool,
    headroom_permille: AtomicU32,
    last_error: Mutex<Option<String>>,
    failures_by_kind: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    config_disabled: std::sync::atomic::AtomicBool,
    /// When the key's last rest (cooldown or quarantine) ended or ends: slow start
    /// ramps from there.
    back_at: AtomicU64,
    /// The vendor's request window, counted down by the calls sent.
    window: RequestWindow,
}

impl KeyRuntime {
    pub(crate) fn new(state: HealthState, enabled: bool) -> Self {
        let runtime = Self {
            headroom_permille: AtomicU32::new(1000),
            ..Self::default()
        };
        runtime.set_enabled(enabled);
        runtime.install(state);
        runtime
    }

    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.config_disabled.store(!enabled, Ordering::Release);
    }

    /// Mirrors a state from the store.
    pub(crate) fn install(&self, state: HealthState) {
        let mut health = self.health.lock();
        *health = state;
        let at = state.available_at_ms().unwrap_or(NEVER);
        self.available_at.store(at, Ordering::Release);
        self.consecutive_failures
            .store(state.consecutive_failures, Ordering::Relaxed);
        let probe = if state.state == KeyState::Quarantined {
            PROBE_OPEN
        } else {
            PROBE_NONE
        };
        self.probe.store(probe, Ordering::Release);
        if matches!(state.state, KeyState::CoolingDown | KeyState::Quarantined) {
            self.back_at.store(state.until_ms, Ordering::Release);
        }
    }

    /// The share of its traffic the key takes at `now_ms` under a slow start of
    /// `ramp_ms`: from [`SLOW_START_FLOOR`] when its last rest ended, rising linearly
    /// to 1 over `ramp_ms` (1 at once when `ramp_ms` is 0 or the key never rested).
    pub(crate) fn ramp(&self, now_ms: u64, ramp_ms: u64) -> f64 {
        let back = self.back_at.load(Ordering::Acquire);
        if ramp_ms == 0 || back == 0 || now_ms >= back.saturating_add(ramp_ms) {
            return 1.0;
        }
        let into = now_ms.saturating_sub(back) as f64 / ramp_ms as f64;
        SLOW_START_FLOOR + (1.0 - SLOW_START_FLOOR) * into
    }

    pub(crate) fn health(&self) -> HealthState {
        *self.health.lock()
    }

    /// False when the config turned the key off.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.config_disabled.load(Ordering::Acquire)
    }

    /// True while a local budget (rpm/tpm/rpd) holds the key back.
    pub(crate) fn budget_blocked(&self, now_ms: u64) -> bool {
        self.budget_until.load(Ordering::Acquire) > now_ms
    }

    pub(crate) fn is_disabled(&self) -> bool {
        self.config_disabled.load(Ordering::Acquire)
            || self.available_at.load(Ordering::Acquire) == NEVER
    }

    pub(crate) fn availability(&self, now_ms: u64) -> Availability {
        if self.config_disabled.load(Ordering::Acquire) {
            return Availability::No;
        }
        let at = self.available_at.load(Ordering::Acquire);
        if at == NEVER {
            return Availability::No;
        }
        let at = at.max(self.budget_until.load(Ordering::Acquire));
        if at > now_ms {
            return Availability::Later(at);
        }
        match self.probe.load(Ordering::Acquire) {
            PROBE_OPEN => Availability::Probe,
            PROBE_CLAIMED => Availability::No,
            _ => Availability::Ready,
        }
    }

    /// When the key may serve again, `None` if never or now.
    pub(crate) fn rest_until(&self, now_ms: u64) -> Option<u64> {
        match self.availability(now_ms) {
            Availability::Later(at) => Some(at),
            _ => None,
        }
    }

    /// Takes the probe; false when another caller has it.
    pub(crate) fn claim_probe(&self) -> bool {
        self.probe
            .compare_exchange(
                PROBE_OPEN,
                PROBE_CLAIMED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// True while a caller holds the probe of a quarantined key.
    pub(crate) fn probing(&self) -> bool {
        self.probe.load(Ordering::Acquire) == PROBE_CLAIMED
    }

    /// Gives the probe back when its call ended with no outcome.
    pub(crate) fn release_probe(&self) {
        let _ = self.probe.compare_exchange(
            PROBE_CLAIMED,
            PROBE_OPEN,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub(crate) fn block_until(&self, until_ms: u64) {
        self.budget_until.fetch_max(until_ms, Ordering::AcqRel);
    }

    /// Counts a call about to be sent with the key against the vendor's request window:
    /// `None` when the window has nothing left (the call must go elsewhere), else
    /// whether this was its last request, after which the key is held back until the
    /// reset. A window that has reset starts again from its limit; an unknown one
    /// grants every call.
    pub(crate) fn reserve_request(&self, now_ms: u64) -> Option<bool> {
        match self.window.reserve(now_ms) {
            Reservation::Granted => Some(false),
            Reservation::Last(reset_at) => {
                self.block_until(reset_at);
                Some(true)
            }
            Reservation::Refused(reset_at) => {
                self.block_until(reset_at);
                None
            }
        }
    }

    /// Gives back a request counted by [`reserve_request`](Self::reserve_request) for a
    /// call that did not go.
    pub(crate) fn release_request(&self) {
        self.window.release();
    }

    /// What the vendor said of the request window (`remaining` of `limit` left until
    /// `reset_at_ms`), less the calls with this key still in flight besides the one that
    /// brought it. Within one window the count only goes down (an answer that arrives
    /// late says more was left than is). True when nothing is left, so the key is held
    /// back until the reset.
    pub(crate) fn observe_requests_left(
        &self,
        remaining: u64,
        limit: Option<u64>,
        reset_at_ms: u64,
        now_ms: u64,
    ) -> bool {
        let others = u64::from(self.in_flight().saturating_sub(1));
        let left = remaining.saturating_sub(others);
        let exhausted = self.window.observe(left, limit, reset_at_ms, now_ms);
        if exhausted {
            self.block_until(reset_at_ms);
        }
        exhausted
    }

    pub(crate) fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Folds a latency sample into the moving average (weight 0.2 for the new sample).
    pub(crate) fn observe_latency(&self, micros: u64) {
        let micros = micros.max(1);
        let _ = self
            .ewma_us
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                Some(if old == 0 {
                    micros
                } else {
                    (old * 4 + micros) / 5
                })
            });
    }

    /// Folds an outcome into the moving failure rate (weight 1/8 for the newest; see
    /// [`crate::outlier`]); returns the rate before and after.
    pub(crate) fn observe_outcome(&self, failed: bool) -> (u32, u32) {
        let step = |old: u32| {
            let kept = old - old.div_ceil(8);
            if failed {
                kept + crate::outlier::RATE_ONE / 8
            } else {
                kept
            }
        };
        let old = self.failure_rate.load(Ordering::Acquire);
        if old == 0 && !failed {
            return (0, 0);
        }
        let old = self
            .failure_rate
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| Some(step(old)))
            .unwrap_or(old);
        (old, step(old))
    }

    /// The moving failure rate, [`crate::outlier::RATE_ONE`] meaning every recent attempt failed.
    pub(crate) fn failure_rate(&self) -> u32 {
        self.failure_rate.load(Ordering::Acquire)
    }

    /// Records whether the latest attempt failed transiently.
    pub(crate) fn set_last_failed(&self, failed: bool) {
        if failed != self.last_failed.load(Ordering::Acquire) {
            self.last_failed.store(failed, Ordering::Release);
        }
    }

    /// True when the latest attempt failed transiently.
    pub(crate) fn last_failed(&self) -> bool {
        self.last_failed.load(Ordering::Acquire)
    }

    /// True while a quarantine entered for transient failures runs at `now_ms`.
    pub(crate) fn rests_for_transient(&self, now_ms: u64) -> bool {
        let health = self.health();
        health.state == KeyState::Quarantined && health.transient && health.until_ms > now_ms
    }

    /// Smoothed latency in microseconds, `None` before the first success.
    pub(crate) fn latency_us(&self) -> Option<u64> {
        match self.ewma_us.load(Ordering::Acquire) {
            0 => None,
            us => Some(us),
        }
    }

    pub(crate) fn set_headroom(&self, fraction: f64) {
        let permille = (fraction.clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.headroom_permille.store(permille, Ordering::Relaxed);
    }

    pub(crate) fn headroom_permille(&self) -> u32 {
        self.headroom_permille.load(Ordering::Relaxed)
    }

    pub(crate) fn set_last_error(&self, message: String) {
        *self.last_error.lock() = Some(message);
    }

    /// Counts a failed attempt of `kind` (this process's count).
    pub(crate) fn count_failure(&self, kind: crate::error::ErrorKind) {
        *self
            .failures_by_kind
            .lock()
            .entry(kind.as_str())
            .or_default() += 1;
    }

    pub(crate) fn failures_by_kind(&self) -> std::collections::BTreeMap<String, u64> {
        self.failures_by_kind
            .lock()
            .iter()
            .map(|(kind, n)| ((*kind).to_owned(), *n))
            .collect()
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_state_fits_in_a_kibibyte() {
        assert!(std::mem::size_of::<KeyRuntime>() <= 1024);
        assert!(std::mem::size_of::<HealthState>() <= 64);
    }

    #[test]
    fn the_request_window_is_counted_down_by_calls_in_flight() {
        let rt = KeyRuntime::new(HealthState::default(), true);
        // unknown: nothing is held back
        assert_eq!(rt.reserve_request(10), Some(false));
        rt.begin();
        rt.begin();
        // at 0 the vendor says 3 of 4 are left until 1_000; one other call is in flight
        assert!(!rt.observe_requests_left(3, Some(4), 1_000, 0));
        // a late answer saying more was left does not raise the count
        assert!(!rt.observe_requests_left(4, Some(4), 1_000, 0));
        assert_eq!(rt.reserve_request(20), Some(false));
        assert_eq!(
            rt.reserve_request(30),
            Some(true),
            "the last request of the window"
        );
        assert_eq!(rt.reserve_request(31), None, "nothing left");
        assert_eq!(rt.availability(40), Availability::Later(1_000));
        assert_eq!(rt.availability(1_000), Availability::Ready);
        // the next window (1_000 to 2_000) starts again from the limit
        for at in 1_001..1_004 {
            assert_eq!(rt.reserve_request(at), Some(false));
        }
        assert_eq!(rt.reserve_request(1_004), Some(true));
        rt.release_request();
        assert_eq!(
            rt.reserve_request(1_004),
            Some(true),
            "given back, taken again"
        );
        assert_eq!(rt.availability(1_005), Availability::Later(2_000));
        // a window that rolls (each answer's reset later than the last) refills as it
        // goes: the newer answer is taken as said, so a busy key is not held back
        let rolling = KeyRuntime::new(HealthState::default(), true);
        rolling.begin();
        assert!(!rolling.observe_requests_left(2, Some(10), 100, 0));
        assert_eq!(rolling.reserve_request(1), Some(false));
        assert_eq!(rolling.reserve_request(2), Some(true));
        assert!(!rolling.observe_requests_left(9, Some(10), 106, 6));
        for at in 7..15 {
            assert_eq!(rolling.reserve_request(at), Some(false), "refilled at {at}");
        }
        // with no limit known, a reset window is unknown until the vendor speaks
        let bare = KeyRuntime::new(HealthState::default(), true);
        bare.begin();
        assert!(bare.observe_requests_left(0, None, 500, 0));
        assert_eq!(bare.reserve_request(600), Some(false));
    }

    #[test]
    fn slow_start_ramps_linearly_from_the_end_of_the_rest() {
        let rt = KeyRuntime::new(HealthState::default(), true);
        assert_eq!(rt.ramp(5_000, 10_000), 1.0, "a key that never rested");
        rt.install(HealthState {
            state: KeyState::CoolingDown,
            until_ms: 1_000,
            ..HealthState::default()
        });
        assert_eq!(rt.ramp(1_000, 10_000), SLOW_START_FLOOR);
        assert!((rt.ramp(6_000, 10_000) - 0.55).abs() < 1e-9);
        assert_eq!(rt.ramp(11_000, 10_000), 1.0);
        assert_eq!(rt.ramp(1_000, 0), 1.0, "slow start off");
        // a healthy state after the rest keeps the ramp's origin
        rt.install(HealthState::default());
        assert!((rt.ramp(6_000, 10_000) - 0.55).abs() < 1e-9);
    }

    proptest::proptest! {
        #[test]
        fn the_ramp_only_rises_and_stays_within_its_bounds(
            back in 1u64..1_000_000, ramp in 1u64..1_000_000, a in 0u64..3_000_000, b in 0u64..3_000_000,
        ) {
            let rt = KeyRuntime::new(HealthState { state: KeyState::CoolingDown, until_ms: back, ..HealthState::default() }, true);
            let (early, late) = (a.min(b), a.max(b));
            let (x, y) = (rt.ramp(early, ramp), rt.ramp(late, ramp));
            proptest::prop_assert!(x <= y);
            proptest::prop_assert!((SLOW_START_FLOOR..=1.0).contains(&x));
            proptest::prop_assert!((SLOW_START_FLOOR..=1.0).contains(&y));
        }
    }

    #[test]
    fn availability_follows_the_installed_state_and_probe() {
        let rt = KeyRuntime::new(HealthState::default(), true);
        assert_eq!(rt.availability(10), Availability::Ready);
        rt.install(HealthState {
            state: KeyState::Quarantined,
            until_ms: 100,
            consecutive_failures: 5,
            strikes: 1,
            transient: true,
            auth_failures: 0,
        });
        assert_eq!(rt.availability(50), Availability::Later(100));
        assert_eq!(rt.availability(100), Availability::Probe);
        assert!(rt.claim_probe());
        assert!(!rt.claim_probe());
        assert_eq!(rt.availability(100), Availability::No);
        rt.release_probe();
        assert_eq!(rt.availability(100), Availability::Probe);
        rt.block_until(500);
        assert_eq!(rt.availability(200), Availability::Later(500));
        let off = KeyRuntime::new(HealthState::default(), false);
        assert_eq!(off.availability(0), Availability::No);
        assert!(!off.is_enabled());
    }

    #[test]
    fn failure_rate_rises_on_failures_and_decays_to_zero() {
        let rt = KeyRuntime::new(HealthState::default(), true);
        assert_eq!(rt.observe_outcome(false), (0, 0));
        let (_, one) = rt.observe_outcome(true);
        assert_eq!(one, crate::outlier::RATE_ONE / 8);
        for _ in 0..200 {
            rt.observe_outcome(true);
        }
        let high = rt.failure_rate();
        assert!(high > crate::outlier::RATE_ONE * 9 / 10, "{high}");
        assert!(high <= crate::outlier::RATE_ONE);
        for _ in 0..200 {
            rt.observe_outcome(false);
        }
        assert_eq!(rt.failure_rate(), 0);
        rt.set_last_failed(true);
        assert!(rt.last_failed());
        rt.set_last_failed(false);
        assert!(!rt.last_failed());
    }

    #[test]
    fn latency_average_moves_towards_samples() {
        let rt = KeyRuntime::new(HealthState::default(), true);
        assert_eq!(rt.latency_us(), None);
        rt.observe_latency(1000);
        rt.observe_latency(2000);
        assert_eq!(rt.latency_us(), Some(1200));
    }
}
