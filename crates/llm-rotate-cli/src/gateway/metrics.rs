//! The gateway's Prometheus metrics: HTTP requests by route and status, request
//! latency, the gateway's own overhead (time in the gateway minus time in the engine
//! and upstream), requests in flight; and at scrape time, from the library's reports,
//! upstream requests and failures by provider, key and kind, key states and tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use llm_rotate::{AffinityStats, HealthReport, KeyState, UsageSummary};
use parking_lot::Mutex;

/// A histogram with fixed bucket bounds (seconds).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation of `seconds`.
    pub fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos
            .fetch_add((seconds.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {total}");
    }
}

const LATENCY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const OVERHEAD_BOUNDS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01,
];

/// Everything the gateway counts itself.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub latency: Histogram,
    pub overhead: Histogram,
    in_flight: AtomicI64,
    /// Requests refused by a client limit, by client and limit.
    refusals: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            refusals: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(BTreeMap::new()),
            latency: Histogram::new(LATENCY_BOUNDS),
            overhead: Histogram::new(OVERHEAD_BOUNDS),
            in_flight: AtomicI64::new(0),
        }
    }
}

/// Counts a request in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `provider="…",key_id="…"` of a key.
fn key_labels(key: &llm_rotate::KeyHealth) -> String {
    format!(
        "provider=\"{}\",key_id=\"{}\"",
        escape(&key.provider),
        escape(&key.key_id)
    )
}

/// A metric with one sample per key, its value read by `value`.
fn per_key(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    health: &HealthReport,
    value: impl Fn(&llm_rotate::KeyHealth) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for key in &health.keys {
        let _ = writeln!(out, "{name}{{{}}} {}", key_labels(key), value(key));
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Marks a request in flight; also gives how many are in flight with it.
    pub fn enter(&self) -> (InFlight<'_>, i64) {
        let serving = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        (InFlight(self), serving)
    }

    /// Counts a finished request.
    /// Counts a request refused by `client`'s `kind` limit.
    pub fn refused(&self, client: &str, kind: llm_rotate::core::limit::LimitKind) {
        *self
            .refusals
            .lock()
            .entry((client.to_owned(), kind.as_str()))
            .or_default() += 1;
    }

    pub fn count(&self, route: &'static str, status: u16) {
        *self.requests.lock().entry((route, status)).or_default() += 1;
    }

    /// The Prometheus text of everything.
    pub fn render(
        &self,
        health: &HealthReport,
        usage: &UsageSummary,
        affinity: &AffinityStats,
        waiting_calls: u32,
    ) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP llm_rotate_http_requests_total Requests the gateway answered, by route and status.\n# TYPE llm_rotate_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().iter() {
            let _ = writeln!(
                out,
                "llm_rotate_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP llm_rotate_in_flight Requests being served now.\n# TYPE llm_rotate_in_flight gauge\nllm_rotate_in_flight {}", self.in_flight.load(Ordering::Relaxed));
        self.latency.render(
            &mut out,
            "llm_rotate_request_duration_seconds",
            "Time from request to response head (non-streamed: whole answer).",
        );
        self.overhead.render(
            &mut out,
            "llm_rotate_overhead_seconds",
            "Time in the gateway minus time in the engine and upstream, per non-streamed request.",
        );
        per_key(
            &mut out,
            "llm_rotate_upstream_requests_total",
            "counter",
            "Upstream attempts, by provider and key.",
            health,
            |key| key.requests,
        );
        out.push_str("# HELP llm_rotate_upstream_failures_total Failed upstream attempts, by provider, key and kind.\n# TYPE llm_rotate_upstream_failures_total counter\n");
        for key in &health.keys {
            for (kind, n) in &key.failures_by_kind {
                let _ = writeln!(
                    out,
                    "llm_rotate_upstream_failures_total{{{},kind=\"{kind}\"}} {n}",
                    key_labels(key)
                );
            }
        }
        out.push_str("# HELP llm_rotate_key_state 1 for the state each key is in.\n# TYPE llm_rotate_key_state gauge\n");
        for key in &health.keys {
            for state in [
                KeyState::Healthy,
                KeyState::CoolingDown,
                KeyState::Quarantined,
                KeyState::Disabled,
            ] {
                let _ = writeln!(
                    out,
                    "llm_rotate_key_state{{{},state=\"{state}\"}} {}",
                    key_labels(key),
                    u8::from(key.state == state)
                );
            }
        }
        let dead = health
            .keys
            .iter()
            .filter(|k| k.disabled_reason.as_deref() == Some("auth"))
            .count();
        let _ = writeln!(out, "# HELP llm_rotate_dead_keys Keys disabled because their credentials were refused on every probe.\n# TYPE llm_rotate_dead_keys gauge\nllm_rotate_dead_keys {dead}");
        per_key(
            &mut out,
            "llm_rotate_key_in_flight",
            "gauge",
            "Calls using each key now.",
            health,
            |key| u64::from(key.in_flight),
        );
        out.push_str("# HELP llm_rotate_tokens_total Tokens of successful attempts, by provider and direction.\n# TYPE llm_rotate_tokens_total counter\n");
        for (provider, counters) in &usage.by_provider {
            let _ = writeln!(
                out,
                "llm_rotate_tokens_total{{provider=\"{}\",direction=\"prompt\"}} {}",
                escape(provider),
                counters.prompt_tokens
            );
            let _ = writeln!(
                out,
                "llm_rotate_tokens_total{{provider=\"{}\",direction=\"completion\"}} {}",
                escape(provider),
                counters.completion_tokens
            );
        }
        let _ = writeln!(
            out,
            "# HELP llm_rotate_affinity_total Calls with an affinity key, by whether they went to the key that served it last.\n# TYPE llm_rotate_affinity_total counter\nllm_rotate_affinity_total{{result=\"hit\"}} {}\nllm_rotate_affinity_total{{result=\"miss\"}} {}",
            affinity.hits, affinity.misses
        );
        out.push_str("# HELP llm_rotate_cost_usd_total What successful attempts cost by the price table, by provider.\n# TYPE llm_rotate_cost_usd_total counter\n");
        for (provider, counters) in &usage.by_provider {
            let _ = writeln!(
                out,
                "llm_rotate_cost_usd_total{{provider=\"{}\"}} {}",
                escape(provider),
                counters.cost_usd()
            );
        }
        client_usage(&mut out, usage);
        out.push_str("# HELP llm_rotate_client_refusals_total Requests refused by a client limit, by client and limit.\n# TYPE llm_rotate_client_refusals_total counter\n");
        for ((client, limit), n) in self.refusals.lock().iter() {
            let _ = writeln!(
                out,
                "llm_rotate_client_refusals_total{{client=\"{}\",limit=\"{limit}\"}} {n}",
                escape(client)
            );
        }
        let _ = writeln!(
            out,
            "# HELP llm_rotate_waiting_calls Calls waiting for a key to come back (max_wait).\n# TYPE llm_rotate_waiting_calls gauge\nllm_rotate_waiting_calls {waiting_calls}"
        );
        let _ = writeln!(
            out,
            "# HELP llm_rotate_affinity_entries Affinity keys remembered now.\n# TYPE llm_rotate_affinity_entries gauge\nllm_rotate_affinity_entries {}",
            affinity.entries
        );
        out
    }
}

/// How one metric reads a client's counters.
type Reading = fn(&llm_rotate::Counters) -> String;

/// Requests, tokens and cost of each client token.
fn client_usage(out: &mut String, usage: &llm_rotate::UsageSummary) {
    let families: [(&str, &str, Reading); 3] = [
        (
            "llm_rotate_client_requests_total",
            "Attempts made for each client.",
            |c| c.requests.to_string(),
        ),
        (
            "llm_rotate_client_tokens_total",
            "Tokens of each client's successful attempts.",
            |c| c.total_tokens.to_string(),
        ),
        (
            "llm_rotate_client_cost_usd_total",
            "What each client's successful attempts cost by the price table.",
            |c| c.cost_usd().to_string(),
        ),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (client, counters) in &usage.by_client {
            let _ = writeln!(
                out,
                "{name}{{client=\"{}\"}} {}",
                escape(client),
                value(counters)
            );
        }
    }
}
