//! The key health state machine, as one pure function.
//!
//! [`transition`] maps `(state, event, now, policy)` to the next state. It does no I/O:
//! the memory store applies it under a lock, the Redis store mirrors it in a Lua script,
//! and the shared table in `rotate_testkit::health_table` checks both.
//!
//! Rules beyond the spec's table, decided here:
//! - a late success (from a request sent before the key was cooled or quarantined) does
//!   not lift an unexpired cooldown or quarantine; it only resets the failure count;
//! - once a quarantine expires the key is eligible for one probe: success makes it
//!   healthy, a failure (transient, quota or auth) quarantines it again;
//! - each quarantine entered without a success in between doubles the period, capped
//!   at [`MAX_QUARANTINE_DOUBLINGS`] doublings (8× `quarantine_seconds`);
//! - a rate limit never shortens a longer rest already in force;
//! - a quarantine remembers whether transient failures caused it ([`HealthState::transient`]):
//!   only those keys may be called again under the panic threshold, never a key resting
//!   for its quota or its credentials;
//! - an [`ExcusedFailure`](HealthEvent::ExcusedFailure) (a transient failure the engine
//!   did not blame on the key) is counted but never quarantines, not even a probe;
//! - a probe refused for its credentials counts one failed auth probe; at
//!   [`HealthPolicy::dead_after_failed_probes`] of them the key is dead: `disabled`, with
//!   the count kept as its reason ([`HealthState::is_dead`]), and probed no more until an
//!   operator enables it or a reload brings it back.

use serde::{Deserialize, Serialize};

use crate::report::KeyState;

/// How many times a repeated quarantine may double its period.
pub const MAX_QUARANTINE_DOUBLINGS: u32 = 3;

/// The persistent health of one key: all the store keeps and shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthState {
    /// The state.
    pub state: KeyState,
    /// For `CoolingDown` and `Quarantined`: when it ends (ms since the epoch); else 0.
    pub until_ms: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Quarantines entered since the last success (drives the growing period).
    pub strikes: u32,
    /// For `Quarantined`: transient failures caused it (not quota or credentials), so
    /// the panic threshold may still call the key.
    #[serde(default)]
    pub transient: bool,
    /// Probes refused for the key's credentials since its last success; a `Disabled`
    /// key with a count is dead (disabled for `auth`), not turned off by an operator.
    #[serde(default)]
    pub auth_failures: u32,
}

/// An outcome, as the health machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HealthEvent {
    /// The call succeeded.
    Success,
    /// Rate limited; wait this long when the vendor said.
    RateLimited {
        /// The vendor's wait, in milliseconds.
        retry_after_ms: Option<u64>,
    },
    /// A success whose headers said the remaining requests or tokens are 0.
    HeadroomExhausted {
        /// Milliseconds until the window resets.
        reset_ms: u64,
    },
    /// The key's quota or credit is gone.
    QuotaExhausted,
    /// The key was refused.
    AuthFailed,
    /// A server error, timeout, network failure or undecodable answer, blamed on the key.
    TransientFailure,
    /// A transient failure not blamed on the key (its peers fail as much, or enough of
    /// them already rest): counted, never quarantines.
    ExcusedFailure,
    /// Turned off by an operator.
    Disable,
    /// Turned back on by an operator.
    Enable,
}

impl HealthEvent {
    /// A stable name, used by the Redis script.
    pub fn code(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::RateLimited { .. } => "rate_limited",
            Self::HeadroomExhausted { .. } => "headroom_exhausted",
            Self::QuotaExhausted => "quota_exhausted",
            Self::AuthFailed => "auth_failed",
            Self::TransientFailure => "transient_failure",
            Self::ExcusedFailure => "excused_failure",
            Self::Disable => "disable",
            Self::Enable => "enable",
        }
    }

    /// The event's duration argument in ms (`-1` when absent), used by the Redis script.
    pub fn argument_ms(self) -> i64 {
        let as_i64 = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        match self {
            Self::RateLimited {
                retry_after_ms: Some(ms),
            } => as_i64(ms),
            Self::HeadroomExhausted { reset_ms } => as_i64(reset_ms),
            _ => -1,
        }
    }
}

/// The periods and limits that govern transitions (per provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthPolicy {
    /// Rest after a rate limit that named no wait.
    pub cooldown_ms: u64,
    /// First quarantine period.
    pub quarantine_ms: u64,
    /// Transient failures in a row that quarantine a key.
    pub max_consecutive_failures: u32,
    /// Probes refused for the key's credentials that make it dead (`disabled`, reason
    /// `auth`); 0 never does.
    #[serde(default)]
    pub dead_after_failed_probes: u32,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            cooldown_ms: 60_000,
            quarantine_ms: 300_000,
            max_consecutive_failures: 5,
            dead_after_failed_probes: 3,
        }
    }
}

impl HealthPolicy {
    /// The period of a quarantine entered with `strikes` earlier ones since the last success.
    pub fn quarantine_period_ms(&self, strikes: u32) -> u64 {
        self.quarantine_ms
            .saturating_mul(1u64 << strikes.min(MAX_QUARANTINE_DOUBLINGS))
    }
}

impl HealthState {
    /// A disabled key.
    pub fn disabled() -> Self {
        Self {
            state: KeyState::Disabled,
            ..Self::default()
        }
    }

    /// True for a key disabled because its credentials kept being refused (reason
    /// `auth`), rather than by an operator or the config.
    pub fn is_dead(&self) -> bool {
        self.state == KeyState::Disabled && self.auth_failures > 0
    }

    /// True while a cooldown or quarantine is still running at `now_ms`.
    pub fn is_resting(&self, now_ms: u64) -> bool {
        matches!(self.state, KeyState::CoolingDown | KeyState::Quarantined)
            && self.until_ms > now_ms
    }

    /// When the key may serve again: `Some(0)` now, `None` never (disabled).
    pub fn available_at_ms(&self) -> Option<u64> {
        match self.state {
            KeyState::Healthy => Some(0),
            KeyState::CoolingDown | KeyState::Quarantined => Some(self.until_ms),
            KeyState::Disabled => None,
        }
    }

    /// True when a call may use the key at `now_ms`.
    pub fn is_eligible(&self, now_ms: u64) -> bool {
        self.available_at_ms().is_some_and(|at| at <= now_ms)
    }

    /// True when the next call is a probe after a quarantine.
    pub fn is_probe(&self, now_ms: u64) -> bool {
        self.state == KeyState::Quarantined && self.until_ms <= now_ms
    }

    /// The state as reported at `now_ms`: an expired cooldown reads as healthy, an expired
    /// quarantine stays quarantined until its probe succeeds.
    pub fn effective_state(&self, now_ms: u64) -> KeyState {
        match self.state {
            KeyState::CoolingDown if self.until_ms <= now_ms => KeyState::Healthy,
            other => other,
        }
    }

    fn quarantined(self, now_ms: u64, policy: &HealthPolicy, transient: bool) -> Self {
        let period_end = now_ms.saturating_add(policy.quarantine_period_ms(self.strikes));
        // A quarantine never ends before a rest already in force.
        let until_ms = if self.is_resting(now_ms) {
            period_end.max(self.until_ms)
        } else {
            period_end
        };
        Self {
            state: KeyState::Quarantined,
            until_ms,
            consecutive_failures: self.consecutive_failures,
            strikes: self.strikes.saturating_add(1),
            transient,
            auth_failures: self.auth_failures,
        }
    }

    fn resting_until(self, until_ms: u64) -> Self {
        match self.state {
            KeyState::Quarantined if self.until_ms >= until_ms => self,
            KeyState::Quarantined => Self { until_ms, ..self },
            KeyState::CoolingDown => Self {
                until_ms: self.until_ms.max(until_ms),
                ..self
            },
            _ => Self {
                state: KeyState::CoolingDown,
                until_ms,
                ..self
            },
        }
    }
}

/// The next state of a key after `event` at `now_ms`.
pub fn transition(
    state: HealthState,
    event: HealthEvent,
    now_ms: u64,
    policy: &HealthPolicy,
) -> HealthState {
    if state.state == KeyState::Disabled {
        return match event {
            HealthEvent::Enable => HealthState::default(),
            _ => state,
        };
    }
    let probing = state.is_probe(now_ms);
    let quarantine_running = state.state == KeyState::Quarantined && state.until_ms > now_ms;
    match event {
        HealthEvent::Success if state.is_resting(now_ms) => HealthState {
            consecutive_failures: 0,
            ..state
        },
        HealthEvent::Success | HealthEvent::Enable => HealthState::default(),
        HealthEvent::Disable => HealthState::disabled(),
        HealthEvent::RateLimited { retry_after_ms } => {
            let wait = retry_after_ms.unwrap_or(policy.cooldown_ms);
            if probing {
                // The probe reached the key and it answered: only a rate limit, so it rests briefly.
                let healed = HealthState {
                    state: KeyState::Healthy,
                    until_ms: 0,
                    transient: false,
                    ..state
                };
                return healed.resting_until(now_ms.saturating_add(wait));
            }
            state.resting_until(now_ms.saturating_add(wait))
        }
        HealthEvent::HeadroomExhausted { reset_ms: 0 } => state,
        HealthEvent::HeadroomExhausted { reset_ms } => {
            state.resting_until(now_ms.saturating_add(reset_ms))
        }
        HealthEvent::AuthFailed if probing => {
            let refused = HealthState {
                auth_failures: state.auth_failures.saturating_add(1),
                ..state
            };
            let limit = policy.dead_after_failed_probes;
            if limit > 0 && refused.auth_failures >= limit {
                HealthState {
                    state: KeyState::Disabled,
                    until_ms: 0,
                    transient: false,
                    ..refused
                }
            } else {
                refused.quarantined(now_ms, policy, false)
            }
        }
        HealthEvent::QuotaExhausted | HealthEvent::AuthFailed => {
            if quarantine_running {
                // The key's own fault now: the panic threshold must leave it alone.
                HealthState {
                    transient: false,
                    ..state
                }
            } else {
                state.quarantined(now_ms, policy, false)
            }
        }
        HealthEvent::ExcusedFailure => HealthState {
            consecutive_failures: state.consecutive_failures.saturating_add(1),
            ..state
        },
        HealthEvent::TransientFailure => {
            let counted = HealthState {
                consecutive_failures: state.consecutive_failures.saturating_add(1),
                ..state
            };
            if quarantine_running {
                counted
            } else if probing || counted.consecutive_failures >= policy.max_consecutive_failures {
                counted.quarantined(now_ms, policy, true)
            } else {
                counted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn eligibility_follows_until() {
        let cooling = HealthState {
            state: KeyState::CoolingDown,
            until_ms: 100,
            ..HealthState::default()
        };
        assert!(!cooling.is_eligible(99));
        assert!(cooling.is_eligible(100));
        assert_eq!(cooling.effective_state(100), KeyState::Healthy);
        assert!(!HealthState::disabled().is_eligible(u64::MAX));
    }

    fn any_state() -> impl Strategy<Value = HealthState> {
        (0u8..4, 0u64..2_000_000, 0u32..10, 0u32..6).prop_map(|(s, until_ms, f, strikes)| {
            let state = match s {
                0 => KeyState::Healthy,
                1 => KeyState::CoolingDown,
                2 => KeyState::Quarantined,
                _ => KeyState::Disabled,
            };
            HealthState {
                state,
                until_ms: if matches!(state, KeyState::CoolingDown | KeyState::Quarantined) {
                    until_ms
                } else {
                    0
                },
                consecutive_failures: f,
                strikes,
                transient: state == KeyState::Quarantined && f > 0,
                auth_failures: strikes % 3,
            }
        })
    }

    fn any_event() -> impl Strategy<Value = HealthEvent> {
        prop_oneof![
            Just(HealthEvent::Success),
            proptest::option::of(0u64..500_000)
                .prop_map(|r| HealthEvent::RateLimited { retry_after_ms: r }),
            (0u64..500_000).prop_map(|r| HealthEvent::HeadroomExhausted { reset_ms: r }),
            Just(HealthEvent::QuotaExhausted),
            Just(HealthEvent::AuthFailed),
            Just(HealthEvent::TransientFailure),
            Just(HealthEvent::ExcusedFailure),
            Just(HealthEvent::Disable),
        ]
    }

    proptest! {
        #[test]
        fn a_resting_key_never_becomes_eligible_early(
            state in any_state(),
            events in proptest::collection::vec((any_event(), 0u64..200_000), 1..20),
            start in 0u64..1_000_000,
        ) {
            let policy = HealthPolicy { cooldown_ms: 60_000, quarantine_ms: 300_000, max_consecutive_failures: 3, dead_after_failed_probes: 3 };
            let mut now = start;
            let mut current = state;
            // The earliest moment the key may serve, given everything that happened so far.
            let mut earliest = if current.is_resting(now) { current.until_ms } else { 0 };
            for (event, step) in events {
                now += step;
                let next = transition(current, event, now, &policy);
                if !matches!(event, HealthEvent::Enable) && now < earliest {
                    prop_assert!(!next.is_eligible(now), "eligible at {now} before {earliest}: {current:?} + {event:?} -> {next:?}");
                }
                if next.is_resting(now) {
                    earliest = earliest.max(next.until_ms);
                }
                current = next;
            }
        }

        #[test]
        fn quarantine_never_ends_before_the_policy_period(state in any_state(), now in 0u64..1_000_000) {
            let policy = HealthPolicy::default();
            for event in [HealthEvent::QuotaExhausted, HealthEvent::AuthFailed] {
                let next = transition(state, event, now, &policy);
                let running_quarantine = state.state == KeyState::Quarantined && state.until_ms > now;
                // a probe refused once too often kills the key instead
                let killed = event == HealthEvent::AuthFailed
                    && state.is_probe(now)
                    && state.auth_failures + 1 >= policy.dead_after_failed_probes;
                if killed {
                    prop_assert!(next.is_dead(), "{state:?} -> {next:?}");
                } else if state.state != KeyState::Disabled && !running_quarantine {
                    prop_assert_eq!(next.state, KeyState::Quarantined);
                    prop_assert!(next.until_ms >= now + policy.quarantine_ms);
                }
            }
        }
    }
}
