//! Time, read through one trait so that tests can drive it by hand.
//!
//! Every cooldown, quarantine, rate window and latency in the engine is measured with a
//! [`Clock`]. Production code uses [`SystemClock`]; tests use [`ManualClock`] and call
//! [`ManualClock::advance`] instead of sleeping. The adapters' request and stream-idle
//! timeouts are tokio timers on real time, so a stalled upstream is cut off even under a
//! manual clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// The future of [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of time.
///
/// `unix_ms` is wall-clock time (shared between processes through the state store);
/// `monotonic` only ever goes forward and is used to measure latency.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn unix_ms(&self) -> u64;
    /// Time since an arbitrary fixed origin; never goes backwards.
    fn monotonic(&self) -> Duration;
    /// The current wall-clock time as a [`SystemTime`].
    fn system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.unix_ms())
    }
    /// Completes once `unix_ms` is reached by this clock (a tokio timer by default; a
    /// manual clock completes when it is advanced past it). Needs a tokio runtime.
    #[allow(clippy::disallowed_methods)] // the one real timer of the engine's clock
    fn sleep_until(&self, unix_ms: u64) -> Sleep<'_> {
        let wait = Duration::from_millis(unix_ms.saturating_sub(self.unix_ms()));
        Box::pin(tokio::time::sleep(wait))
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn unix_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    #[allow(clippy::disallowed_methods)] // the one place that reads the monotonic clock
    fn monotonic(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }

    /// tokio's timer fires on millisecond ticks, up to one late; so it is set a
    /// millisecond short, and the rest is waited out yielding to the runtime.
    #[allow(clippy::disallowed_methods)] // the real timer, to the microsecond
    fn sleep_until(&self, unix_ms: u64) -> Sleep<'_> {
        let target = Duration::from_millis(unix_ms);
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        };
        Box::pin(async move {
            let early = target
                .saturating_sub(now())
                .saturating_sub(Duration::from_millis(1));
            if !early.is_zero() {
                tokio::time::sleep(early).await;
            }
            while now() < target {
                tokio::task::yield_now().await;
            }
        })
    }
}

/// A clock that moves only when told to. Both wall and monotonic time advance together.
///
/// ```
/// use rotate_core::clock::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.unix_ms(), 61_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    start_ms: u64,
    offset_us: AtomicU64,
    moved: Notify,
}

impl ManualClock {
    /// A clock that reads `unix_ms` milliseconds since the epoch until advanced.
    pub fn new(unix_ms: u64) -> Self {
        Self {
            start_ms: unix_ms,
            offset_us: AtomicU64::new(0),
            moved: Notify::new(),
        }
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.offset_us.fetch_add(us, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn unix_ms(&self) -> u64 {
        self.start_ms + self.offset_us.load(Ordering::SeqCst) / 1_000
    }

    fn monotonic(&self) -> Duration {
        Duration::from_micros(self.offset_us.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, unix_ms: u64) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                // registered before the check, so an advance in between is not missed
                let moved = self.moved.notified();
                if self.unix_ms() >= unix_ms {
                    return;
                }
                moved.await;
            }
        })
    }
}

/// Formats milliseconds since the epoch as an RFC 3339 UTC timestamp (`2026-11-24T03:37:11.000Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's civil calendar algorithm.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(5_000);
        assert_eq!(clock.unix_ms(), 5_000);
        assert_eq!(clock.monotonic(), Duration::ZERO);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.unix_ms(), 6_500);
        assert_eq!(clock.monotonic(), Duration::from_millis(1_500));
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_is_advanced_past_it() {
        let clock = std::sync::Arc::new(ManualClock::new(1_000));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(5_000).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_millis(3_000));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(1_000));
        sleeper.await.unwrap();
        // a time already past does not wait
        clock.sleep_until(10).await;
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_491_431_000), "2026-11-24T03:37:11.000Z");
    }

    #[test]
    fn the_calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 12, 4), 20_791);
        for days in [-1, 0, 59, 11_016, 20_791, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.unix_ms() > 1_577_836_800_000);
    }
}
