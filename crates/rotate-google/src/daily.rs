//! When Google's per-day quotas reset: at midnight Pacific time (America/Los_Angeles,
//! UTC−8, or UTC−7 while US daylight saving time runs: from the second Sunday of March,
//! 02:00 local, to the first Sunday of November, 02:00 local).

use rotate_core::clock::{civil_from_days, days_from_civil};

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The next midnight Pacific time strictly after `now_ms` (ms since the epoch).
pub fn next_reset_ms(now_ms: u64) -> u64 {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX / 2);
    let offset = pacific_offset_ms(now);
    let local = now + offset;
    let local_day = local.div_euclid(DAY_MS as i64);
    let next_local_midnight = (local_day + 1) * DAY_MS as i64;
    // the offset at the next midnight (a change happens at 02:00, never at midnight)
    let guess = next_local_midnight - offset;
    let at = next_local_midnight - pacific_offset_ms(guess);
    u64::try_from(at).unwrap_or(u64::MAX)
}

/// The Pacific offset from UTC at `utc_ms`, in ms (negative).
fn pacific_offset_ms(utc_ms: i64) -> i64 {
    let day = utc_ms.div_euclid(DAY_MS as i64);
    let (year, _, _) = civil_from_days(day);
    // DST starts at 02:00 PST (10:00 UTC) and ends at 02:00 PDT (09:00 UTC)
    let starts = (nth_sunday(year, 3, 2) * DAY_MS as i64) + 10 * HOUR_MS;
    let ends = (nth_sunday(year, 11, 1) * DAY_MS as i64) + 9 * HOUR_MS;
    if (starts..ends).contains(&utc_ms) {
        -7 * HOUR_MS
    } else {
        -8 * HOUR_MS
    }
}

/// The day number (since 1970-01-01) of the `n`th Sunday of `month` in `year`.
fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    // 1970-01-01 was a Thursday: weekday 0 = Sunday
    let weekday = (first + 4).rem_euclid(7);
    first + (7 - weekday) % 7 + 7 * (n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ms since the epoch of a UTC date and hour.
    fn utc(year: i64, month: u32, day: u32, hour: i64) -> u64 {
        (days_from_civil(year, month, day) * DAY_MS as i64 + hour * HOUR_MS) as u64
    }

    #[test]
    fn daylight_saving_time_runs_from_march_to_november() {
        // 2026: DST from Sunday 8 March to Sunday 1 November
        assert_eq!(civil_from_days(nth_sunday(2026, 3, 2)), (2026, 3, 8));
        assert_eq!(civil_from_days(nth_sunday(2026, 11, 1)), (2026, 11, 1));
    }

    #[test]
    fn resets_at_midnight_pacific_in_winter_and_in_summer() {
        // 4 December 2026, 19:00 UTC = 11:00 PST: next reset 5 December 08:00 UTC
        assert_eq!(next_reset_ms(utc(2026, 12, 4, 19)), utc(2026, 12, 5, 8));
        // 4 December, 07:30 UTC = 23:30 PST on the 3rd: reset half an hour later
        let late = utc(2026, 12, 4, 7) + 30 * 60_000;
        assert_eq!(next_reset_ms(late), utc(2026, 12, 4, 8));
        // 1 July 2026, 12:00 UTC = 05:00 PDT: next reset 2 July 07:00 UTC
        assert_eq!(next_reset_ms(utc(2026, 7, 1, 12)), utc(2026, 7, 2, 7));
        // exactly at a reset: the next one, a day later
        assert_eq!(next_reset_ms(utc(2026, 7, 2, 7)), utc(2026, 7, 3, 7));
    }

    #[test]
    fn the_days_the_clocks_change_reset_at_the_new_offset() {
        // Saturday 7 March 2026, 12:00 UTC (04:00 PST): midnight of the 8th is PST
        assert_eq!(next_reset_ms(utc(2026, 3, 7, 12)), utc(2026, 3, 8, 8));
        // Sunday 8 March, 12:00 UTC (05:00 PDT): midnight of the 9th is PDT
        assert_eq!(next_reset_ms(utc(2026, 3, 8, 12)), utc(2026, 3, 9, 7));
        // Sunday 1 November, 12:00 UTC (04:00 PST): midnight of the 2nd is PST
        assert_eq!(next_reset_ms(utc(2026, 11, 1, 12)), utc(2026, 11, 2, 8));
        // Saturday 31 October, 12:00 UTC (05:00 PDT): midnight of 1 November is PDT
        assert_eq!(next_reset_ms(utc(2026, 10, 31, 12)), utc(2026, 11, 1, 7));
    }

    #[test]
    fn never_panics_on_extreme_instants() {
        assert!(next_reset_ms(0) > 0);
        let _ = next_reset_ms(u64::MAX);
    }
}
