//! Client limits: requests and tokens per minute and a spend budget per day and per
//! month for one client (a gateway token, a tenant of an application).
//!
//! The store keeps four counters per client, each in its current window (the UTC
//! calendar minute, day or month): requests admitted, tokens used, and nano-dollars spent
//! today and this month. [`StateStore::admit_client`](crate::store::StateStore::admit_client)
//! is one atomic step: refused when any window has reached its limit, else the request
//! is counted, so at most `rpm` requests a minute get through however many processes
//! share the store. Tokens and spend are added when a call's usage is recorded (a
//! [`UsageRecord`](crate::store::UsageRecord) naming the client): a budget can be passed
//! by the calls already in flight when it ran out, since what a call costs is known only
//! once it answers.
//!
//! ```
//! use rotate_core::limit::{ClientLimits, LimitKind, LimitWindow};
//!
//! let limits = ClientLimits { rpm: Some(60), budget_usd_per_day: Some(5.0), ..Default::default() };
//! assert_eq!(limits.cap(LimitKind::Requests), Some(60));
//! assert_eq!(limits.cap(LimitKind::DailyBudget), Some(5_000_000_000)); // nano-dollars
//! // 2026-12-07T10:00:30Z: the month runs from December 1st to January 1st
//! let (start, end) = LimitWindow::Month.bounds_ms(1_796_637_630_000);
//! assert_eq!((start, end), (1_796_083_200_000, 1_798_761_600_000));
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{civil_from_days, days_from_civil};
use crate::error::ConfigurationError;

/// What one client may use. `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientLimits {
    /// Requests admitted per UTC minute.
    pub rpm: Option<u64>,
    /// Tokens (input and output) per UTC minute; a request is refused once the minute's
    /// tokens reach it.
    pub tpm: Option<u64>,
    /// US dollars per UTC day.
    pub budget_usd_per_day: Option<f64>,
    /// US dollars per UTC calendar month.
    pub budget_usd_per_month: Option<f64>,
}

impl ClientLimits {
    /// True when nothing is limited (admission then needs no store round trip).
    pub fn is_unlimited(&self) -> bool {
        LimitKind::ALL.iter().all(|kind| self.cap(*kind).is_none())
    }

    /// The limit on `kind`'s counter, in its unit (requests, tokens, nano-dollars).
    pub fn cap(&self, kind: LimitKind) -> Option<u64> {
        let nano = |usd: f64| (usd * 1e9).round().clamp(0.0, u64::MAX as f64) as u64;
        match kind {
            LimitKind::Requests => self.rpm,
            LimitKind::Tokens => self.tpm,
            LimitKind::DailyBudget => self.budget_usd_per_day.map(nano),
            LimitKind::MonthlyBudget => self.budget_usd_per_month.map(nano),
        }
    }

    /// Checks every limit: counts above zero, budgets finite and not negative (`path`
    /// prefixes the field in the error).
    pub fn validate(&self, path: &str) -> Result<(), ConfigurationError> {
        for (name, value) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if value == Some(0) {
                return Err(ConfigurationError::new(
                    format!("{path}.{name}"),
                    "must be above 0 (leave it out for no limit)",
                ));
            }
        }
        for (name, value) in [
            ("budget_usd_per_day", self.budget_usd_per_day),
            ("budget_usd_per_month", self.budget_usd_per_month),
        ] {
            if value.is_some_and(|usd| !(0.0..=1e9).contains(&usd)) {
                return Err(ConfigurationError::new(
                    format!("{path}.{name}"),
                    "must be a number of dollars from 0 to 1e9",
                ));
            }
        }
        Ok(())
    }
}

/// One of a client's four counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Requests this minute.
    Requests,
    /// Tokens this minute.
    Tokens,
    /// Nano-dollars spent today.
    DailyBudget,
    /// Nano-dollars spent this month.
    MonthlyBudget,
}

impl LimitKind {
    /// Every counter, in the order stores check them (budgets first).
    pub const ALL: [LimitKind; 4] = [
        Self::MonthlyBudget,
        Self::DailyBudget,
        Self::Tokens,
        Self::Requests,
    ];

    /// The config field that sets it: `rpm`, `tpm`, `budget_usd_per_day`,
    /// `budget_usd_per_month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "rpm",
            Self::Tokens => "tpm",
            Self::DailyBudget => "budget_usd_per_day",
            Self::MonthlyBudget => "budget_usd_per_month",
        }
    }

    /// The window it counts in.
    pub fn window(self) -> LimitWindow {
        match self {
            Self::Requests | Self::Tokens => LimitWindow::Minute,
            Self::DailyBudget => LimitWindow::Day,
            Self::MonthlyBudget => LimitWindow::Month,
        }
    }

    /// True for the spend budgets.
    pub fn is_budget(self) -> bool {
        matches!(self, Self::DailyBudget | Self::MonthlyBudget)
    }
}

/// A fixed window of client counters, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitWindow {
    /// The calendar minute.
    Minute,
    /// The calendar day.
    Day,
    /// The calendar month.
    Month,
}

const DAY_MS: u64 = 86_400_000;

impl LimitWindow {
    /// When the window holding `now_ms` (Unix milliseconds) starts and ends.
    pub fn bounds_ms(self, now_ms: u64) -> (u64, u64) {
        match self {
            Self::Minute => {
                let start = now_ms - now_ms % 60_000;
                (start, start + 60_000)
            }
            Self::Day => {
                let start = now_ms - now_ms % DAY_MS;
                (start, start + DAY_MS)
            }
            Self::Month => {
                let days = i64::try_from(now_ms / DAY_MS).unwrap_or(i64::MAX / 2);
                let (year, month, _) = civil_from_days(days);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let ms = |days: i64| u64::try_from(days).unwrap_or(0).saturating_mul(DAY_MS);
                (
                    ms(days_from_civil(year, month, 1)),
                    ms(days_from_civil(next_year, next_month, 1)),
                )
            }
        }
    }

    /// `minute`, `day` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Day => "day",
            Self::Month => "month",
        }
    }
}

/// Admitted, or refused with the spent window.
pub type LimitResult = Result<(), LimitExceeded>;

/// A request refused because one of its client's windows is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client's `{}` limit is reached; its window resets in {}s", kind.as_str(), retry_after.as_secs().max(1))]
pub struct LimitExceeded {
    /// The counter at its limit.
    pub kind: LimitKind,
    /// Until its window ends.
    pub retry_after: Duration,
}

impl LimitExceeded {
    /// The refusal for `kind` at `now_ms`.
    pub fn new(kind: LimitKind, now_ms: u64) -> Self {
        let (_, end) = kind.window().bounds_ms(now_ms);
        Self {
            kind,
            retry_after: Duration::from_millis(end.saturating_sub(now_ms)),
        }
    }
}

/// What a recorded call adds to its client's counters: its tokens this minute, its cost
/// today and this month.
pub fn usage_charges(total_tokens: u64, cost_nano_usd: u64) -> [(LimitKind, u64); 3] {
    [
        (LimitKind::Tokens, total_tokens),
        (LimitKind::DailyBudget, cost_nano_usd),
        (LimitKind::MonthlyBudget, cost_nano_usd),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_utc_calendar_minutes_days_and_months() {
        let at = |y, m, d| u64::try_from(days_from_civil(y, m, d)).unwrap() * DAY_MS;
        let mid_feb = at(2028, 2, 15) + 3_723_456;
        assert_eq!(
            LimitWindow::Minute.bounds_ms(mid_feb),
            (at(2028, 2, 15) + 3_720_000, at(2028, 2, 15) + 3_780_000)
        );
        assert_eq!(
            LimitWindow::Day.bounds_ms(mid_feb),
            (at(2028, 2, 15), at(2028, 2, 16))
        );
        // a leap February, and December rolling into the next year
        assert_eq!(
            LimitWindow::Month.bounds_ms(mid_feb),
            (at(2028, 2, 1), at(2028, 3, 1))
        );
        assert_eq!(
            LimitWindow::Month.bounds_ms(at(2026, 12, 31) + DAY_MS - 1),
            (at(2026, 12, 1), at(2027, 1, 1))
        );
        assert_eq!(
            LimitWindow::Month.bounds_ms(at(2027, 1, 1)),
            (at(2027, 1, 1), at(2027, 2, 1))
        );
        // never panics at the edges of time
        let _ = LimitWindow::Month.bounds_ms(u64::MAX);
        assert_eq!(LimitWindow::Month.bounds_ms(0).0, 0);
    }

    #[test]
    fn a_refusal_waits_for_its_window_to_end() {
        let refused = LimitExceeded::new(LimitKind::Requests, 120_000 + 45_500);
        assert_eq!(refused.retry_after, Duration::from_millis(14_500));
        assert!(refused.to_string().contains("`rpm`"), "{refused}");
        let daily = LimitExceeded::new(LimitKind::DailyBudget, DAY_MS - 1);
        assert_eq!(daily.retry_after, Duration::from_millis(1));
    }

    #[test]
    fn limits_are_checked_and_budgets_counted_in_nano_dollars() {
        let limits = ClientLimits {
            budget_usd_per_month: Some(0.000_000_001_4),
            ..Default::default()
        };
        assert_eq!(limits.cap(LimitKind::MonthlyBudget), Some(1));
        assert!(!limits.is_unlimited());
        assert!(ClientLimits::default().is_unlimited());
        let bad = ClientLimits {
            budget_usd_per_day: Some(-1.0),
            ..Default::default()
        };
        assert_eq!(
            bad.validate("gateway.clients[0]").unwrap_err().path(),
            "gateway.clients[0].budget_usd_per_day"
        );
        let bad = ClientLimits {
            tpm: Some(0),
            ..Default::default()
        };
        assert_eq!(bad.validate("c").unwrap_err().path(), "c.tpm");
        let nan = ClientLimits {
            budget_usd_per_month: Some(f64::NAN),
            ..Default::default()
        };
        assert!(nan.validate("c").is_err());
    }
}
