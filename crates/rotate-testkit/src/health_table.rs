//! The conformance table of the health machine: every row of the spec's
//! classification/transition table, with concrete numbers. The Rust function and
//! every store that mirrors it (the Redis Lua script) are tested against these rows.

use rotate_core::health::{HealthEvent, HealthPolicy, HealthState};
use rotate_core::report::KeyState;

/// One row: `transition(before, event, now_ms, POLICY) == after`.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What the row checks.
    pub name: &'static str,
    /// The state before.
    pub before: HealthState,
    /// The outcome.
    pub event: HealthEvent,
    /// The time of the outcome.
    pub now_ms: u64,
    /// The expected state after.
    pub after: HealthState,
}

/// The policy every row uses: 60 s cooldown, 300 s quarantine, 3 failures, dead after
/// 3 refused probes.
pub const POLICY: HealthPolicy = HealthPolicy {
    cooldown_ms: 60_000,
    quarantine_ms: 300_000,
    max_consecutive_failures: 3,
    dead_after_failed_probes: 3,
};

const NOW: u64 = 1_000_000;

const fn st(
    state: KeyState,
    until_ms: u64,
    consecutive_failures: u32,
    strikes: u32,
) -> HealthState {
    HealthState {
        state,
        until_ms,
        consecutive_failures,
        strikes,
        transient: false,
        auth_failures: 0,
    }
}

/// `state` with `auth_failures` refused probes.
const fn refused(state: HealthState, auth_failures: u32) -> HealthState {
    HealthState {
        auth_failures,
        ..state
    }
}

/// A quarantine entered for transient failures.
const fn tq(until_ms: u64, consecutive_failures: u32, strikes: u32) -> HealthState {
    HealthState {
        transient: true,
        ..st(
            KeyState::Quarantined,
            until_ms,
            consecutive_failures,
            strikes,
        )
    }
}

const HEALTHY: HealthState = st(KeyState::Healthy, 0, 0, 0);

/// Every row.
pub const CASES: &[Case] = &[
    Case {
        name: "success keeps a healthy key healthy",
        before: st(KeyState::Healthy, 0, 2, 0),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "success resets failures and strikes",
        before: st(KeyState::Healthy, 0, 2, 2),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "rate limit with retry-after cools for that long",
        before: HEALTHY,
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(7_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 7_000, 0, 0),
    },
    Case {
        name: "rate limit without retry-after cools for cooldown_seconds",
        before: HEALTHY,
        event: HealthEvent::RateLimited {
            retry_after_ms: None,
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 60_000, 0, 0),
    },
    Case {
        name: "rate limit keeps failure count",
        before: st(KeyState::Healthy, 0, 2, 0),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(1_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 1_000, 2, 0),
    },
    Case {
        name: "a shorter rate limit never shortens a cooldown",
        before: st(KeyState::CoolingDown, NOW + 30_000, 0, 0),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(1_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 30_000, 0, 0),
    },
    Case {
        name: "a longer rate limit extends a cooldown",
        before: st(KeyState::CoolingDown, NOW + 1_000, 0, 0),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(30_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 30_000, 0, 0),
    },
    Case {
        name: "an expired cooldown is replaced by a new one",
        before: st(KeyState::CoolingDown, NOW - 1, 0, 0),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(5_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 5_000, 0, 0),
    },
    Case {
        name: "rate limit during a quarantine keeps the quarantine",
        before: st(KeyState::Quarantined, NOW + 100_000, 0, 1),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(5_000),
        },
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 100_000, 0, 1),
    },
    Case {
        name: "rate limit on a probe cools the key instead",
        before: tq(NOW, 0, 1),
        event: HealthEvent::RateLimited {
            retry_after_ms: Some(5_000),
        },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 5_000, 0, 1),
    },
    Case {
        name: "remaining 0 on success cools until the reset",
        before: HEALTHY,
        event: HealthEvent::HeadroomExhausted { reset_ms: 2_500 },
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 2_500, 0, 0),
    },
    Case {
        name: "remaining 0 with an immediate reset changes nothing",
        before: HEALTHY,
        event: HealthEvent::HeadroomExhausted { reset_ms: 0 },
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "quota exhausted quarantines",
        before: HEALTHY,
        event: HealthEvent::QuotaExhausted,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 300_000, 0, 1),
    },
    Case {
        name: "auth failure quarantines",
        before: HEALTHY,
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 300_000, 0, 1),
    },
    Case {
        name: "auth failure while cooling quarantines",
        before: st(KeyState::CoolingDown, NOW + 5_000, 0, 0),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 300_000, 0, 1),
    },
    Case {
        name: "a second auth failure during a quarantine changes nothing",
        before: st(KeyState::Quarantined, NOW + 10_000, 0, 1),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 10_000, 0, 1),
    },
    Case {
        name: "transient failure counts",
        before: HEALTHY,
        event: HealthEvent::TransientFailure,
        now_ms: NOW,
        after: st(KeyState::Healthy, 0, 1, 0),
    },
    Case {
        name: "transient failure at the limit quarantines, for transient faults",
        before: st(KeyState::Healthy, 0, 2, 0),
        event: HealthEvent::TransientFailure,
        now_ms: NOW,
        after: tq(NOW + 300_000, 3, 1),
    },
    Case {
        name: "an excused failure at the limit counts but never quarantines",
        before: st(KeyState::Healthy, 0, 2, 0),
        event: HealthEvent::ExcusedFailure,
        now_ms: NOW,
        after: st(KeyState::Healthy, 0, 3, 0),
    },
    Case {
        name: "an excused failure of a probe keeps the probe open",
        before: tq(NOW - 1, 3, 1),
        event: HealthEvent::ExcusedFailure,
        now_ms: NOW,
        after: tq(NOW - 1, 4, 1),
    },
    Case {
        name: "an excused failure while cooling keeps cooling",
        before: st(KeyState::CoolingDown, NOW + 5_000, 0, 0),
        event: HealthEvent::ExcusedFailure,
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 5_000, 1, 0),
    },
    Case {
        name: "a transient failure during a transient quarantine only counts",
        before: tq(NOW + 10_000, 3, 1),
        event: HealthEvent::TransientFailure,
        now_ms: NOW,
        after: tq(NOW + 10_000, 4, 1),
    },
    Case {
        name: "quota during a transient quarantine makes it the key's own",
        before: tq(NOW + 10_000, 3, 1),
        event: HealthEvent::QuotaExhausted,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 10_000, 3, 1),
    },
    Case {
        name: "a probe's auth failure turns a transient quarantine into the key's own",
        before: tq(NOW - 1, 3, 1),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: refused(st(KeyState::Quarantined, NOW + 600_000, 3, 2), 1),
    },
    Case {
        name: "transient failure while cooling counts but keeps cooling",
        before: st(KeyState::CoolingDown, NOW + 5_000, 0, 0),
        event: HealthEvent::TransientFailure,
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 5_000, 1, 0),
    },
    Case {
        name: "probe success heals",
        before: tq(NOW - 1, 3, 1),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "probe failure quarantines again for twice as long",
        before: tq(NOW - 1, 3, 1),
        event: HealthEvent::TransientFailure,
        now_ms: NOW,
        after: tq(NOW + 600_000, 4, 2),
    },
    Case {
        name: "probe auth failure quarantines again",
        before: st(KeyState::Quarantined, NOW, 0, 2),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: refused(st(KeyState::Quarantined, NOW + 1_200_000, 0, 3), 1),
    },
    Case {
        name: "a second refused probe counts two",
        before: refused(st(KeyState::Quarantined, NOW, 0, 3), 1),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: refused(st(KeyState::Quarantined, NOW + 2_400_000, 0, 4), 2),
    },
    Case {
        name: "the third refused probe makes the key dead",
        before: refused(st(KeyState::Quarantined, NOW, 0, 4), 2),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: refused(st(KeyState::Disabled, 0, 0, 4), 3),
    },
    Case {
        name: "a refused call outside a probe counts no probe",
        before: refused(st(KeyState::Healthy, 0, 0, 4), 2),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: refused(st(KeyState::Quarantined, NOW + 2_400_000, 0, 5), 2),
    },
    Case {
        name: "a dead key stays dead whatever it is told but enable",
        before: refused(st(KeyState::Disabled, 0, 0, 4), 3),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: refused(st(KeyState::Disabled, 0, 0, 4), 3),
    },
    Case {
        name: "enable brings a dead key back healthy",
        before: refused(st(KeyState::Disabled, 0, 0, 4), 3),
        event: HealthEvent::Enable,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "a probe's success clears the refused probes",
        before: refused(st(KeyState::Quarantined, NOW, 0, 3), 2),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "an operator's disable is not dead",
        before: refused(st(KeyState::Quarantined, NOW + 5, 0, 3), 2),
        event: HealthEvent::Disable,
        now_ms: NOW,
        after: st(KeyState::Disabled, 0, 0, 0),
    },
    Case {
        name: "quarantine growth is capped at 8x",
        before: st(KeyState::Quarantined, NOW, 0, 7),
        event: HealthEvent::QuotaExhausted,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 2_400_000, 0, 8),
    },
    Case {
        name: "late success keeps an unexpired cooldown",
        before: st(KeyState::CoolingDown, NOW + 5_000, 2, 0),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: st(KeyState::CoolingDown, NOW + 5_000, 0, 0),
    },
    Case {
        name: "late success keeps an unexpired quarantine",
        before: st(KeyState::Quarantined, NOW + 5_000, 0, 1),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: st(KeyState::Quarantined, NOW + 5_000, 0, 1),
    },
    Case {
        name: "success after a cooldown ends is healthy",
        before: st(KeyState::CoolingDown, NOW - 1, 0, 0),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: HEALTHY,
    },
    Case {
        name: "disable",
        before: tq(NOW + 5_000, 1, 0),
        event: HealthEvent::Disable,
        now_ms: NOW,
        after: st(KeyState::Disabled, 0, 0, 0),
    },
    Case {
        name: "a disabled key ignores outcomes",
        before: st(KeyState::Disabled, 0, 0, 0),
        event: HealthEvent::Success,
        now_ms: NOW,
        after: st(KeyState::Disabled, 0, 0, 0),
    },
    Case {
        name: "a disabled key ignores failures",
        before: st(KeyState::Disabled, 0, 0, 0),
        event: HealthEvent::AuthFailed,
        now_ms: NOW,
        after: st(KeyState::Disabled, 0, 0, 0),
    },
    Case {
        name: "enable",
        before: st(KeyState::Disabled, 0, 0, 0),
        event: HealthEvent::Enable,
        now_ms: NOW,
        after: HEALTHY,
    },
];
