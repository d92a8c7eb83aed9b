//! Outlier detection: whether a transient failure is the key's fault.
//!
//! Random faults that hit every key alike must not quarantine keys (that turns noise into
//! an outage), and a provider failing on every key is the provider's outage, not the
//! keys'. So each key keeps a moving rate of its transient failures (weight 1/8 for the
//! newest attempt) and whether its latest attempt failed, and each provider the sum of
//! its keys' rates. Three questions follow:
//!
//! - **is the key an outlier?** (O(1)) Its rate is at least twice its peers' mean plus
//!   [`OUTLIER_MARGIN`] (a key alone in its provider always is). A dead key among healthy
//!   ones is one after its first failure; among keys failing 26 % of the time at random,
//!   only a key failing well over half the time is.
//! - **is the provider failing as a whole?** Every key that could serve now failed its
//!   latest attempt: the call moves on to the next plan entry instead of trying every
//!   key. Asked after a failure only; the scan stops at the first key still serving well.
//! - **is there room to quarantine?** Fewer than `defaults.max_transient_ejection` of the
//!   provider's keys (at least one) rest for transient faults already. This one reads
//!   every key's state, and only when an outlier is about to be quarantined.
//!
//! A transient failure that is not the key's fault is reported to the health machine as
//! [`HealthEvent::ExcusedFailure`]: counted, never quarantining.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::health::{HealthEvent, HealthPolicy};
use crate::key::{Availability, KeyRuntime};
use crate::topology::KeyEntry;

/// A failure rate of 1: every recent attempt failed.
pub(crate) const RATE_ONE: u32 = 1 << 16;

/// How far above twice its peers' mean a key's failure rate must be to make it an
/// outlier: a tenth (so one failure of a key whose peers never fail is enough).
pub(crate) const OUTLIER_MARGIN: u32 = RATE_ONE / 10;

/// The outlier view of one provider's keys.
#[derive(Debug)]
pub(crate) struct Outliers {
    /// The sum of the keys' failure rates (wrapping; read as signed and clamped).
    rate_sum: AtomicU64,
    keys: u32,
    /// How many keys may rest for transient faults at once.
    max_resting: usize,
}

impl Outliers {
    /// The view of `runtimes` (one provider's keys), of which at most `share` (0 to 1,
    /// at least one key) may rest for transient faults.
    pub(crate) fn new<'a>(
        runtimes: impl ExactSizeIterator<Item = &'a KeyRuntime>,
        share: f64,
    ) -> Self {
        let keys = runtimes.len();
        let sum = runtimes.map(|r| u64::from(r.failure_rate())).sum();
        let max_resting = ((share.clamp(0.0, 1.0) * keys as f64).floor() as usize).max(1);
        Self {
            rate_sum: AtomicU64::new(sum),
            keys: u32::try_from(keys).unwrap_or(u32::MAX),
            max_resting,
        }
    }

    /// Folds a success (`failed` false) or a transient failure of `runtime` into the view.
    pub(crate) fn observe(&self, runtime: &KeyRuntime, failed: bool) {
        let (old, new) = runtime.observe_outcome(failed);
        if old != new {
            let delta = i64::from(new) - i64::from(old);
            self.rate_sum.fetch_add(delta as u64, Ordering::AcqRel);
        }
        runtime.set_last_failed(failed);
    }

    /// True when `runtime`'s failure rate stands out from its peers'.
    pub(crate) fn is_outlier(&self, runtime: &KeyRuntime) -> bool {
        if self.keys <= 1 {
            return true;
        }
        let sum = (self.rate_sum.load(Ordering::Acquire) as i64).max(0) as u64;
        let own = u64::from(runtime.failure_rate());
        let peers_mean = sum.saturating_sub(own) / u64::from(self.keys - 1);
        own >= 2 * peers_mean + u64::from(OUTLIER_MARGIN)
    }

    /// True when every key of `keys` that could serve at `now_ms` failed its latest
    /// attempt (keys resting or turned off do not count).
    pub(crate) fn failing_as_a_whole(keys: &[KeyEntry], now_ms: u64) -> bool {
        keys.iter().all(|key| {
            let runtime = &key.runtime;
            runtime.last_failed()
                || !matches!(
                    runtime.availability(now_ms),
                    Availability::Ready | Availability::Probe
                )
        })
    }

    /// The health event for a transient failure of `keys[pos]` at `now_ms`, already
    /// folded in with [`observe`](Self::observe): [`HealthEvent::TransientFailure`] when
    /// it is the key's fault, else [`HealthEvent::ExcusedFailure`].
    pub(crate) fn judge(
        &self,
        keys: &[KeyEntry],
        pos: usize,
        now_ms: u64,
        policy: &HealthPolicy,
    ) -> HealthEvent {
        let runtime = &keys[pos].runtime;
        if !self.is_outlier(runtime) {
            return HealthEvent::ExcusedFailure;
        }
        let health = runtime.health();
        let quarantines = health.is_probe(now_ms)
            || health.consecutive_failures.saturating_add(1) >= policy.max_consecutive_failures;
        if quarantines && !self.room_to_rest(keys, pos, now_ms) {
            return HealthEvent::ExcusedFailure;
        }
        HealthEvent::TransientFailure
    }

    /// True when fewer than the allowed share of keys (other than `pos`) rest for
    /// transient faults.
    fn room_to_rest(&self, keys: &[KeyEntry], pos: usize, now_ms: u64) -> bool {
        let resting = keys
            .iter()
            .enumerate()
            .filter(|(i, key)| *i != pos && key.runtime.rests_for_transient(now_ms))
            .count();
        resting < self.max_resting
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::health::{HealthPolicy, HealthState};
    use crate::provider::KeyInfo;
    use crate::report::KeyState;
    use crate::secret::Secret;

    fn keys(n: usize) -> Vec<KeyEntry> {
        (0..n)
            .map(|i| KeyEntry {
                info: Arc::new(KeyInfo::new(
                    format!("k{i}"),
                    "p",
                    Secret::new("sk-test"),
                    None,
                    BTreeMap::new(),
                )),
                runtime: Arc::new(KeyRuntime::new(HealthState::default(), true)),
                rpm: None,
                tpm: None,
                rpd: None,
                quota_group: None,
            })
            .collect()
    }

    fn view(keys: &[KeyEntry], share: f64) -> Outliers {
        Outliers::new(keys.iter().map(|k| &*k.runtime), share)
    }

    const POLICY: HealthPolicy = HealthPolicy {
        cooldown_ms: 1_000,
        quarantine_ms: 2_000,
        max_consecutive_failures: 3,
        dead_after_failed_probes: 3,
    };

    #[test]
    fn a_key_failing_alone_is_an_outlier_and_shared_failures_are_not() {
        let ks = keys(4);
        let view = view(&ks, 0.5);
        view.observe(&ks[0].runtime, true);
        assert!(view.is_outlier(&ks[0].runtime));
        assert!(!view.is_outlier(&ks[1].runtime));
        for k in &ks[1..] {
            view.observe(&k.runtime, true);
        }
        assert!(!view.is_outlier(&ks[0].runtime), "everyone fails alike");
        assert!(Outliers::failing_as_a_whole(&ks, 10));
        view.observe(&ks[1].runtime, false);
        assert!(
            !Outliers::failing_as_a_whole(&ks, 10),
            "one key still serves well"
        );
        ks[1].runtime.install(HealthState {
            state: KeyState::CoolingDown,
            until_ms: 100,
            ..HealthState::default()
        });
        assert!(
            Outliers::failing_as_a_whole(&ks, 10),
            "a resting key does not count"
        );
    }

    #[test]
    fn a_lone_key_is_always_judged_as_today() {
        let ks = keys(1);
        let view = view(&ks, 0.5);
        view.observe(&ks[0].runtime, true);
        assert_eq!(
            view.judge(&ks, 0, 10, &POLICY),
            HealthEvent::TransientFailure
        );
    }

    #[test]
    fn no_more_than_the_share_rests_for_transient_faults() {
        let ks = keys(4);
        let view = view(&ks, 0.5);
        let rest = |k: &KeyEntry| {
            k.runtime.install(HealthState {
                state: KeyState::Quarantined,
                until_ms: 1_000,
                consecutive_failures: 3,
                strikes: 1,
                transient: true,
                auth_failures: 0,
            })
        };
        rest(&ks[1]);
        rest(&ks[2]);
        ks[0].runtime.install(HealthState {
            consecutive_failures: 2,
            ..HealthState::default()
        });
        view.observe(&ks[0].runtime, true);
        assert!(view.is_outlier(&ks[0].runtime));
        assert_eq!(
            view.judge(&ks, 0, 10, &POLICY),
            HealthEvent::ExcusedFailure,
            "two of four rest already"
        );
        // once a rest ends there is room again
        assert_eq!(
            view.judge(&ks, 0, 1_000, &POLICY),
            HealthEvent::TransientFailure
        );
        // a quarantine for the key's own fault does not count against the share
        ks[1].runtime.install(HealthState {
            transient: false,
            ..ks[1].runtime.health()
        });
        assert_eq!(
            view.judge(&ks, 0, 10, &POLICY),
            HealthEvent::TransientFailure
        );
    }

    #[test]
    fn at_least_one_key_may_rest_whatever_the_share() {
        let ks = keys(3);
        let view = view(&ks, 0.0);
        ks[0].runtime.install(HealthState {
            consecutive_failures: 2,
            ..HealthState::default()
        });
        view.observe(&ks[0].runtime, true);
        assert_eq!(
            view.judge(&ks, 0, 10, &POLICY),
            HealthEvent::TransientFailure
        );
        ks[0].runtime.install(HealthState {
            state: KeyState::Quarantined,
            until_ms: 1_000,
            consecutive_failures: 3,
            strikes: 1,
            transient: true,
            auth_failures: 0,
        });
        ks[1].runtime.install(HealthState {
            consecutive_failures: 2,
            ..HealthState::default()
        });
        for _ in 0..3 {
            view.observe(&ks[1].runtime, true);
        }
        assert!(view.is_outlier(&ks[1].runtime));
        assert_eq!(view.judge(&ks, 1, 10, &POLICY), HealthEvent::ExcusedFailure);
    }
}
