//! What `health()` and `usage_summary()` return.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::strategy::Strategy;

/// The state of a key in the health machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Serving.
    #[default]
    Healthy,
    /// Rate-limited: rests until its cooldown ends.
    CoolingDown,
    /// Failing (quota, auth, repeated errors): rests until its quarantine ends, then is probed.
    Quarantined,
    /// Turned off by config or by an operator.
    Disabled,
}

impl KeyState {
    /// `healthy`, `cooling_down`, `quarantined` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::CoolingDown => "cooling_down",
            Self::Quarantined => "quarantined",
            Self::Disabled => "disabled",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Healthy,
            Self::CoolingDown,
            Self::Quarantined,
            Self::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state store's condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// `memory` or `redis`.
    pub backend: String,
    /// False while the shared store cannot be reached (calls go on from the local view).
    pub connected: bool,
    /// True when this report's key states or usage are this process's own view, because
    /// the shared store did not answer in time.
    #[serde(default)]
    pub local_only: bool,
}

/// Key counts of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderHealth {
    /// The provider's name.
    pub name: String,
    /// Keys configured for it.
    pub total_keys: usize,
    /// Keys that could serve a call now.
    pub available_keys: usize,
}

/// One key's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyHealth {
    /// The key's id (never its value).
    pub key_id: String,
    /// Its provider.
    pub provider: String,
    /// Its state now.
    pub state: KeyState,
    /// When cooling down or quarantined: milliseconds until eligible again.
    pub available_in_ms: Option<u64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Requests sent with the key.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// The last error seen with the key (never containing a key value).
    pub last_error: Option<String>,
    /// Failed attempts by kind (`rate_limited`, `server_error`, …), counted by this process.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub failures_by_kind: std::collections::BTreeMap<String, u64>,
    /// Smoothed latency of its successful calls.
    pub latency_ms_ewma: Option<f64>,
    /// Calls using the key right now (in this process).
    #[serde(default)]
    pub in_flight: u32,
    /// True while the one probe call of a quarantined key whose time has come is in
    /// flight (the key stays `quarantined` until it answers; no other call gets it).
    #[serde(default)]
    pub probing: bool,
    /// Why a `disabled` key is: `auth` (its credentials were refused on
    /// `dead_key_after_failed_probes` probes), `operator` (`set_key_enabled`) or
    /// `config` (`enabled: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The key's quota group, when it shares a vendor quota with other keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_group: Option<String>,
    /// The share of the vendor's rate limit left (0 to 1), as its headers last said (1
    /// until they say otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<f64>,
}

/// A snapshot of every key's and provider's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// When the snapshot was taken (RFC 3339, UTC).
    pub generated_at: String,
    /// The selection strategy in force.
    pub strategy: Strategy,
    /// The state store's condition.
    pub store: StoreHealth,
    /// Per provider.
    pub providers: Vec<ProviderHealth>,
    /// Per key, in configuration order.
    pub keys: Vec<KeyHealth>,
}

/// Request and token counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Attempts sent.
    pub requests: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Input tokens of successful attempts.
    pub prompt_tokens: u64,
    /// Output tokens of successful attempts.
    pub completion_tokens: u64,
    /// All tokens of successful attempts.
    pub total_tokens: u64,
    /// What the successful attempts cost, in nano-dollars (see [`cost_usd`](Self::cost_usd)).
    #[serde(default)]
    pub cost_nano_usd: u64,
}

impl Counters {
    /// What the successful attempts cost, in USD.
    pub fn cost_usd(&self) -> f64 {
        crate::price::nano_to_usd(self.cost_nano_usd)
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Counters) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.failures += other.failures;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cost_nano_usd += other.cost_nano_usd;
    }
}

/// Usage since start (or, with a shared store, across the fleet).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageSummary {
    /// Everything.
    pub total: Counters,
    /// By provider name.
    pub by_provider: BTreeMap<String, Counters>,
    /// By key id.
    pub by_key: BTreeMap<String, Counters>,
    /// By upstream model id.
    pub by_model: BTreeMap<String, Counters>,
    /// By the upstream provider an aggregator (OpenRouter) or an `acquire` caller named.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_upstream_provider: BTreeMap<String, Counters>,
    /// By the client calls were made for (`ChatOptions::client`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_client: BTreeMap<String, Counters>,
    /// True when these are this process's counts only, because the shared store did not
    /// answer in time (they converge when it returns).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_only: bool,
}
