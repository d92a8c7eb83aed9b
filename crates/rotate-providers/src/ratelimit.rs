//! Wait hints and rate-limit headroom from vendor headers and bodies.
//!
//! Wait hints, in priority order: `retry-after-ms`; `retry-after` (seconds, fractions
//! tolerated, or an HTTP date); hints in the error message ("try again in 3.89s",
//! "Please retry in 45.5s", "retry after 20 seconds"). Headroom: OpenAI-style
//! `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with Go-duration resets
//! (`6m0s`, `1h2m3.5s`) or plain seconds, Cerebras' windowed names
//! (`x-ratelimit-remaining-requests-day`), and Anthropic's
//! `anthropic-ratelimit-*-{limit,remaining,reset}` with RFC 3339 resets.

use std::time::Duration;

use http::HeaderMap;
use rotate_core::provider::Headroom;

/// Parses a Go duration (`1s`, `20ms`, `6m0s`, `1h2m3.5s`, `250us`) or plain seconds (`11.38`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim_ascii();
    let is_number = |b: &u8| b.is_ascii_digit() || *b == b'.';
    match text.as_bytes().last() {
        None => return None,
        // no unit at the end: plain seconds, or nothing
        Some(last) if is_number(last) => return seconds(text.parse::<f64>().ok()?),
        Some(_) => {}
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .position(|b| !is_number(&b))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let digits = &rest[..number_len];
        let value: f64 = match digits.parse::<u64>() {
            Ok(whole) => whole as f64,
            Err(_) => digits.parse().ok()?,
        };
        rest = &rest[number_len..];
        let unit_len = rest
            .bytes()
            .position(|b| is_number(&b))
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    seconds(total)
}

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

/// Parses an RFC 3339 time (`2025-02-24T22:25:32Z`, fractions and offsets allowed) into
/// milliseconds since the epoch.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let b = text.trim().as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(&b[range]).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = std::str::from_utf8(&b[start..i]).ok()?;
        let padded = format!("{digits:0<3}");
        millis = padded.get(..3)?.parse().ok()?;
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = num(i + 1..i + 3)?;
            let minutes = num(i + 4..i + 6)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header(headers, name)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v >= 0.0)
        .map(|v| v as u64)
}

/// The wait asked for by `retry-after-ms` or `retry-after` (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap, now_unix_ms: u64) -> Option<Duration> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    let value = header(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    Some(Duration::from_millis(
        u64::try_from(at_ms.saturating_sub(u128::from(now_unix_ms))).unwrap_or(u64::MAX),
    ))
}

/// A wait named in an error message: "try again in 3.89s", "retry in 45.5s", "retry
/// after 20 seconds", "try again in 174ms".
pub fn retry_hint_in_message(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    for marker in [
        "try again in ",
        "retry in ",
        "retry after ",
        "try again after ",
    ] {
        if let Some(at) = lower.find(marker) {
            let rest = &lower[at + marker.len()..];
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == 'µ')
                .collect();
            let minutes_word = rest[token.len()..].trim_start().starts_with("min");
            if let Some(d) = parse_duration(token.trim_end_matches('.')) {
                return Some(if minutes_word { d * 60 } else { d });
            }
        }
    }
    None
}

/// A count as a header writes it: digits (the common case, read without a float
/// parse), or a non-negative decimal such as `9.5` (its whole part).
fn count_of(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .map(|v| v as u64)
    })
}

/// OpenAI-style headroom (`x-ratelimit-*`), Cerebras' windowed variants included
/// (a plain name wins over `-minute`, which wins over `-day`). One pass over the headers.
pub fn openai_headroom(headers: &HeaderMap) -> Option<Headroom> {
    // (value, rank) per field; lower rank wins
    let mut fields: [Option<(&str, u8)>; 6] = [None; 6];
    for (name, value) in headers {
        let Some(rest) = name.as_str().strip_prefix("x-ratelimit-") else {
            continue;
        };
        let (field, rest) = if let Some(r) = rest.strip_prefix("limit-") {
            (0, r)
        } else if let Some(r) = rest.strip_prefix("remaining-") {
            (1, r)
        } else if let Some(r) = rest.strip_prefix("reset-") {
            (2, r)
        } else {
            continue;
        };
        let (unit, window) = if let Some(w) = rest.strip_prefix("requests") {
            (0, w)
        } else if let Some(w) = rest.strip_prefix("tokens") {
            (3, w)
        } else {
            continue;
        };
        let rank = match window {
            "" => 0,
            "-minute" => 1,
            "-day" => 2,
            _ => continue,
        };
        let Ok(text) = value.to_str() else { continue };
        let slot = &mut fields[unit + field];
        if slot.is_none_or(|(_, r)| rank < r) {
            *slot = Some((text.trim_ascii(), rank));
        }
    }
    let number = |i: usize| fields[i].and_then(|(v, _)| count_of(v));
    let duration = |i: usize| fields[i].and_then(|(v, _)| parse_duration(v));
    let headroom = Headroom {
        limit_requests: number(0),
        remaining_requests: number(1),
        reset_requests: duration(2),
        limit_tokens: number(3),
        remaining_tokens: number(4),
        reset_tokens: duration(5),
    };
    (headroom != Headroom::default()).then_some(headroom)
}

/// Anthropic's headroom (`anthropic-ratelimit-*`, resets as RFC 3339 times).
pub fn anthropic_headroom(headers: &HeaderMap, now_unix_ms: u64) -> Option<Headroom> {
    let reset = |name: &str| {
        header(headers, name)
            .and_then(parse_rfc3339_ms)
            .map(|at| Duration::from_millis(at.saturating_sub(now_unix_ms)))
    };
    let tokens_prefix = if headers.contains_key("anthropic-ratelimit-tokens-remaining") {
        "anthropic-ratelimit-tokens"
    } else {
        "anthropic-ratelimit-input-tokens"
    };
    let headroom = Headroom {
        limit_requests: header_u64(headers, "anthropic-ratelimit-requests-limit"),
        remaining_requests: header_u64(headers, "anthropic-ratelimit-requests-remaining"),
        reset_requests: reset("anthropic-ratelimit-requests-reset"),
        limit_tokens: header_u64(headers, &format!("{tokens_prefix}-limit")),
        remaining_tokens: header_u64(headers, &format!("{tokens_prefix}-remaining")),
        reset_tokens: reset(&format!("{tokens_prefix}-reset")),
    };
    (headroom != Headroom::default()).then_some(headroom)
}

/// The wait of a rate-limited answer: headers first, then the message, then the reset
/// of whichever window the headroom says is exhausted.
pub fn wait_hint(
    headers: &HeaderMap,
    message: &str,
    headroom: Option<&Headroom>,
    now_unix_ms: u64,
) -> Option<Duration> {
    retry_after(headers, now_unix_ms)
        .or_else(|| retry_hint_in_message(message))
        .or_else(|| {
            headroom
                .and_then(Headroom::exhausted_for)
                .filter(|d| !d.is_zero())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn counts_are_digits_or_decimals_never_negative() {
        assert_eq!(count_of("10000"), Some(10_000));
        assert_eq!(count_of("9.5"), Some(9));
        assert_eq!(count_of("1e3"), Some(1_000));
        assert_eq!(count_of("-1"), None);
        assert_eq!(count_of("lots"), None);
        assert_eq!(count_of(""), None);
    }

    #[test]
    fn go_durations_and_plain_seconds() {
        let cases = [
            ("1s", 1_000),
            ("20ms", 20),
            ("6m0s", 360_000),
            ("1h2m3.5s", 3_723_500),
            ("7.66s", 7_660),
            ("2m59.56s", 179_560),
            ("11.38", 11_380),
            ("250us", 0),
            ("0s", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis() as u64),
                Some(ms),
                "{text}"
            );
        }
        for bad in ["", "abc", "5x", "-3", "1h-2m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2025-02-24T22:25:32Z"),
            Some(1_740_435_932_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-02-24T22:25:32.5Z"),
            Some(1_740_435_932_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-02-24T23:25:32+01:00"),
            Some(1_740_435_932_000)
        );
        assert_eq!(parse_rfc3339_ms("not a time at all!!"), None);
        assert_eq!(parse_rfc3339_ms("2025-13-24T22:25:32Z"), None);
    }

    #[test]
    fn retry_after_precedence() {
        let now = 1_740_435_932_000;
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "9")]), now),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2.5")]), now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Mon, 24 Feb 2025 22:25:42 GMT")]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "garbage")]), now),
            None
        );
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn message_hints() {
        let cases = [
            ("Rate limit reached for requests. Please try again in 3.89s.", 3_890),
            ("Please try again in 174ms.", 174),
            ("You exceeded your current quota. Please retry in 45.5s.", 45_500),
            ("Requests to the API have exceeded token rate limit. Please retry after 20 seconds.", 20_000),
            ("Rate limit is exceeded. Try again in 2 seconds.", 2_000),
        ];
        for (message, ms) in cases {
            assert_eq!(
                retry_hint_in_message(message).map(|d| d.as_millis() as u64),
                Some(ms),
                "{message}"
            );
        }
        assert_eq!(retry_hint_in_message("no hint here"), None);
    }

    #[test]
    fn openai_and_cerebras_headroom() {
        let h = openai_headroom(&headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]))
        .unwrap();
        assert_eq!(h.remaining_requests, Some(0));
        assert_eq!(h.exhausted_for(), Some(Duration::from_secs(1)));
        assert_eq!(h.reset_tokens, Some(Duration::from_secs(360)));
        let c = openai_headroom(&headers(&[
            ("x-ratelimit-limit-requests-day", "14400"),
            ("x-ratelimit-remaining-requests-day", "14399"),
            ("x-ratelimit-reset-requests-day", "33011.4"),
            ("x-ratelimit-remaining-tokens-minute", "0"),
            ("x-ratelimit-reset-tokens-minute", "11.38"),
        ]))
        .unwrap();
        assert_eq!(c.limit_requests, Some(14400));
        assert_eq!(c.exhausted_for(), Some(Duration::from_millis(11_380)));
        assert_eq!(openai_headroom(&HeaderMap::new()), None);
    }

    #[test]
    fn anthropic_headroom_uses_rfc3339_resets() {
        let now = 1_740_435_932_000;
        let h = anthropic_headroom(
            &headers(&[
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2025-02-24T22:25:35Z"),
                ("anthropic-ratelimit-tokens-limit", "40000"),
                ("anthropic-ratelimit-tokens-remaining", "39000"),
                ("anthropic-ratelimit-tokens-reset", "2025-02-24T22:25:40Z"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(h.exhausted_for(), Some(Duration::from_secs(3)));
        assert_eq!(h.reset_tokens, Some(Duration::from_secs(8)));
    }

    #[test]
    fn wait_hint_falls_back_to_the_exhausted_window() {
        let h = Headroom {
            remaining_tokens: Some(0),
            reset_tokens: Some(Duration::from_secs(4)),
            ..Headroom::default()
        };
        assert_eq!(
            wait_hint(&HeaderMap::new(), "slow down", Some(&h), 0),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            wait_hint(&headers(&[("retry-after", "1")]), "", Some(&h), 0),
            Some(Duration::from_secs(1))
        );
        assert_eq!(wait_hint(&HeaderMap::new(), "", None, 0), None);
    }
}
