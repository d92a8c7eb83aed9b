//! What the dashboard shows over time: requests and failures per provider and per model
//! in 30-second buckets over the last hour, and the recent failures of each key. Fed by
//! sampling the health report and usage summary once a second (off the request path),
//! so it costs calls nothing; with the Redis store the counts are the fleet's.

use std::collections::{BTreeMap, HashMap, VecDeque};

use llm_rotate::{HealthReport, UsageSummary};
use parking_lot::Mutex;
use serde::Serialize;

/// The width of one bucket.
pub const BUCKET_MS: u64 = 30_000;
/// Buckets kept: one hour.
pub const BUCKETS: usize = 120;
/// Recent failures kept.
const MAX_FAILURES: usize = 50;

/// One key's failures seen in one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureEntry {
    /// When the sample saw them (Unix ms).
    pub at_ms: u64,
    pub key_id: String,
    /// The kind that grew most (`rate_limited`, `server_error`, …).
    pub kind: String,
    /// The key's last error.
    pub message: String,
    /// How many failures the sample saw.
    pub count: u64,
}

/// Requests and failures of one name, per bucket, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    pub requests: Vec<u64>,
    pub failures: Vec<u64>,
}

/// The series the dashboard draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charts {
    pub bucket_seconds: u64,
    pub providers: BTreeMap<String, Series>,
    pub models: BTreeMap<String, Series>,
}

/// Buckets of one name: (bucket start, requests, failures), oldest first.
type Buckets = VecDeque<(u64, u64, u64)>;

#[derive(Default)]
struct Dimension {
    /// The (requests, failures) totals of the last sample.
    last: HashMap<String, (u64, u64)>,
    buckets: BTreeMap<String, Buckets>,
}

impl Dimension {
    fn observe(
        &mut self,
        now_ms: u64,
        totals: &BTreeMap<String, llm_rotate::Counters>,
        first: bool,
    ) {
        let start = now_ms - now_ms % BUCKET_MS;
        for (name, counters) in totals {
            let now = (counters.requests, counters.failures);
            let before = self.last.insert(name.clone(), now);
            if first {
                continue;
            }
            // counters that went down were reset (a reload, a fresh store): count afresh
            let (requests, failures) = match before {
                Some((r, f)) if now.0 >= r && now.1 >= f => (now.0 - r, now.1 - f),
                Some(_) | None => now,
            };
            let buckets = self.buckets.entry(name.clone()).or_default();
            match buckets.back_mut() {
                Some(last) if last.0 == start => {
                    last.1 += requests;
                    last.2 += failures;
                }
                _ => buckets.push_back((start, requests, failures)),
            }
        }
        let oldest = start.saturating_sub(BUCKET_MS * (BUCKETS as u64 - 1));
        for buckets in self.buckets.values_mut() {
            while buckets.front().is_some_and(|b| b.0 < oldest) {
                buckets.pop_front();
            }
        }
        self.buckets.retain(|_, b| !b.is_empty());
    }

    fn series(&self, now_ms: u64) -> BTreeMap<String, Series> {
        let current = now_ms - now_ms % BUCKET_MS;
        let oldest = current.saturating_sub(BUCKET_MS * (BUCKETS as u64 - 1));
        self.buckets
            .iter()
            .map(|(name, buckets)| {
                let mut series = Series {
                    requests: vec![0; BUCKETS],
                    failures: vec![0; BUCKETS],
                };
                for &(start, requests, failures) in buckets {
                    if let Some(i) = start.checked_sub(oldest).map(|d| (d / BUCKET_MS) as usize) {
                        if i < BUCKETS {
                            series.requests[i] = requests;
                            series.failures[i] = failures;
                        }
                    }
                }
                (name.clone(), series)
            })
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    sampled: bool,
    providers: Dimension,
    models: Dimension,
    /// Each key's failure count and failures by kind at the last sample.
    keys: HashMap<String, (u64, BTreeMap<String, u64>)>,
    failures: VecDeque<FailureEntry>,
}

/// The dashboard's memory of the last hour.
#[derive(Default)]
pub struct History {
    inner: Mutex<Inner>,
}

impl History {
    /// Takes one sample.
    pub fn observe(&self, now_ms: u64, health: &HealthReport, usage: &UsageSummary) {
        let mut inner = self.inner.lock();
        let first = !std::mem::replace(&mut inner.sampled, true);
        inner.providers.observe(now_ms, &usage.by_provider, first);
        inner.models.observe(now_ms, &usage.by_model, first);
        for key in &health.keys {
            let before = inner.keys.insert(
                key.key_id.clone(),
                (key.failures, key.failures_by_kind.clone()),
            );
            let Some((failures, kinds)) = before.filter(|_| !first) else {
                continue;
            };
            if key.failures <= failures {
                continue;
            }
            let kind = key
                .failures_by_kind
                .iter()
                .map(|(kind, n)| {
                    (
                        n.saturating_sub(kinds.get(kind).copied().unwrap_or(0)),
                        kind,
                    )
                })
                .filter(|(grew, _)| *grew > 0)
                .max()
                .map_or_else(|| "failure".to_owned(), |(_, kind)| kind.clone());
            inner.failures.push_front(FailureEntry {
                at_ms: now_ms,
                key_id: key.key_id.clone(),
                kind,
                message: key.last_error.clone().unwrap_or_default(),
                count: key.failures - failures,
            });
        }
        let hour_ago = now_ms.saturating_sub(BUCKET_MS * BUCKETS as u64);
        inner.failures.truncate(MAX_FAILURES);
        while inner.failures.back().is_some_and(|f| f.at_ms < hour_ago) {
            inner.failures.pop_back();
        }
    }

    /// The charts as of `now_ms`.
    pub fn charts(&self, now_ms: u64) -> Charts {
        let inner = self.inner.lock();
        Charts {
            bucket_seconds: BUCKET_MS / 1000,
            providers: inner.providers.series(now_ms),
            models: inner.models.series(now_ms),
        }
    }

    /// The recent failures, newest first.
    pub fn failures(&self) -> Vec<FailureEntry> {
        self.inner.lock().failures.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_rotate::{Counters, KeyHealth};

    fn usage(provider_requests: u64, failures: u64) -> UsageSummary {
        let counters = Counters {
            requests: provider_requests,
            failures,
            ..Counters::default()
        };
        let mut usage = UsageSummary::default();
        usage.by_provider.insert("openai".into(), counters);
        usage.by_model.insert("gpt-4o".into(), counters);
        usage
    }

    fn health(failures: u64, kinds: &[(&str, u64)], last_error: &str) -> HealthReport {
        let key: KeyHealth = serde_json::from_value(serde_json::json!({
            "key_id": "a", "provider": "openai", "state": "healthy", "available_in_ms": null,
            "consecutive_failures": 0, "requests": 0, "failures": failures,
            "last_error": last_error, "latency_ms_ewma": null,
        }))
        .unwrap();
        let mut key = key;
        key.failures_by_kind = kinds.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
        let mut report: HealthReport = serde_json::from_value(serde_json::json!({
            "generated_at": "2026-12-07T00:00:00Z", "strategy": "round_robin",
            "store": {"backend": "memory", "connected": true}, "providers": [], "keys": [],
        }))
        .unwrap();
        report.keys.push(key);
        report
    }

    #[test]
    fn samples_become_buckets_of_the_last_hour() {
        let history = History::default();
        let t0 = 10 * 3_600_000;
        // the first sample is the baseline: what came before is not this hour's
        history.observe(t0, &health(0, &[], ""), &usage(100, 10));
        history.observe(t0 + 1_000, &health(0, &[], ""), &usage(103, 11));
        history.observe(t0 + 2_000, &health(0, &[], ""), &usage(105, 11));
        history.observe(t0 + BUCKET_MS, &health(0, &[], ""), &usage(106, 12));
        let charts = history.charts(t0 + BUCKET_MS);
        let openai = &charts.providers["openai"];
        assert_eq!(openai.requests.len(), BUCKETS);
        assert_eq!(openai.requests[BUCKETS - 2..], [5, 1]);
        assert_eq!(openai.failures[BUCKETS - 2..], [1, 1]);
        assert_eq!(charts.models["gpt-4o"].requests.iter().sum::<u64>(), 6);
        // an hour on, the old buckets have left the chart
        let later = t0 + BUCKET_MS * (BUCKETS as u64 + 1);
        history.observe(later, &health(0, &[], ""), &usage(107, 12));
        let openai = &history.charts(later).providers["openai"];
        assert_eq!(openai.requests.iter().sum::<u64>(), 1);
        // counters that went down (a reload) count afresh, never negative
        history.observe(later + 1, &health(0, &[], ""), &usage(2, 0));
        assert_eq!(
            history.charts(later + 1).providers["openai"].requests[BUCKETS - 1],
            3
        );
    }

    #[test]
    fn a_key_s_new_failures_are_listed_with_their_kind_and_message() {
        let history = History::default();
        history.observe(
            1_000,
            &health(1, &[("server_error", 1)], "old"),
            &usage(0, 0),
        );
        history.observe(
            2_000,
            &health(1, &[("server_error", 1)], "old"),
            &usage(0, 0),
        );
        assert!(history.failures().is_empty(), "the baseline lists nothing");
        history.observe(
            3_000,
            &health(
                4,
                &[("server_error", 2), ("rate_limited", 2)],
                "429 <b>slow</b>",
            ),
            &usage(0, 0),
        );
        let failures = history.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].kind, "rate_limited");
        assert_eq!(failures[0].count, 3);
        assert_eq!(failures[0].message, "429 <b>slow</b>");
        assert_eq!(failures[0].at_ms, 3_000);
    }
}
