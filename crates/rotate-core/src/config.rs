//! The configuration models and their defaults.
//!
//! Every model rejects unknown fields (naming the nearest valid one). The jobs around
//! the models live beside them: [`validate`](LMRotateConfig::validate) checks every
//! rule of the spec (`config/validate.rs`), secrets are read from values, environment
//! variables and files (`config/secrets.rs`), `Debug` and serde never show a credential
//! (`config/redact.rs`), and serde's errors become a [`ConfigurationError`] with a path
//! and a "did you mean" (`config/explain.rs`).

mod explain;
mod key;
mod redact;
mod secrets;
mod served;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::catalogue;
use crate::error::ConfigurationError;
use crate::health::HealthPolicy;
use crate::strategy::Strategy;

pub use explain::{deserialize_with_path, explain_serde_message, suggestion};
pub use key::KeyConfig;
pub use redact::redact_url_password;
pub use secrets::SecretSource;
pub use served::ServedModel;
pub use validate::check_base_url;

pub use crate::catalogue::WireApi;

/// Defaults that apply to every provider unless it overrides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultsConfig {
    /// How keys are chosen.
    pub selection_strategy: Strategy,
    /// Retries after transient failures (server errors, timeouts), per plan entry.
    pub max_retries: u32,
    /// Rest after a rate limit that named no wait.
    pub cooldown_seconds: u64,
    /// First quarantine period (doubles on repeated quarantines, capped at 8×).
    pub quarantine_seconds: u64,
    /// Transient failures in a row that quarantine a key (an outlier among its
    /// provider's keys only: see `max_transient_ejection`).
    pub max_consecutive_failures: u32,
    /// The largest share (0 to 1) of a provider's keys that may rest for transient
    /// faults at once; at least one key always may.
    pub max_transient_ejection: f64,
    /// Time limit of one upstream request.
    pub request_timeout_seconds: u64,
    /// Longest silence allowed inside a stream.
    pub stream_idle_timeout_seconds: u64,
    /// The longest a whole call may take, retries and fallback included (for a stream:
    /// until its first chunk); none by default. A call's `timeout` option overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_timeout_seconds: Option<u64>,
    /// Probes refused for a key's credentials that make it dead (`disabled`, reason
    /// `auth`, probed no more until enabled or reloaded); 0 never does.
    pub dead_key_after_failed_probes: u32,
    /// How long a call waits for a key to come back when none is eligible (0: it fails
    /// at once); a call's `max_wait` overrides it.
    pub max_wait_seconds: u64,
    /// Calls that may wait at once; past it a call fails at once.
    pub max_waiters: u32,
    /// How long a key back from a cooldown or quarantine takes to ramp from a tenth of
    /// its share to all of it (`weighted` and `health_aware`); 0 is off.
    pub slow_start_seconds: u64,
}

impl Default for DefaultsConfig {
    fn default() -> Self {
        Self {
            selection_strategy: Strategy::HealthAware,
            max_retries: 3,
            cooldown_seconds: 60,
            quarantine_seconds: 300,
            max_consecutive_failures: 5,
            max_transient_ejection: 0.5,
            request_timeout_seconds: 60,
            stream_idle_timeout_seconds: 60,
            call_timeout_seconds: None,
            dead_key_after_failed_probes: 3,
            max_wait_seconds: 0,
            max_waiters: 1024,
            slow_start_seconds: 0,
        }
    }
}

/// One step of a fallback chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackEntry {
    /// The provider to try.
    pub provider: String,
    /// The model id at that provider (defaults to the requested model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl FallbackEntry {
    /// A step that calls `provider` with `upstream` as the model id.
    pub fn new(provider: impl Into<String>, upstream: Option<&str>) -> Self {
        Self {
            provider: provider.into(),
            upstream: upstream.map(str::to_owned),
        }
    }
}

/// Where key health and usage live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// In this process only.
    #[default]
    Memory,
    /// Shared through Redis by every process on the same namespace.
    Redis,
}

impl StoreBackend {
    /// `memory` or `redis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// The state store's settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateStoreConfig {
    /// `memory` (default) or `redis`.
    pub backend: StoreBackend,
    /// The Redis server, e.g. `redis://localhost:6379/0`; with `redis_cluster`, one or
    /// more comma-separated nodes of the cluster (or its configuration endpoint).
    pub redis_url: String,
    /// True when `redis_url` leads to a Redis Cluster (cluster mode enabled).
    pub redis_cluster: bool,
    /// Prefix of every Redis key.
    pub redis_namespace: String,
}

impl Default for StateStoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: "redis://localhost:6379/0".to_owned(),
            redis_cluster: false,
            redis_namespace: "llmrotate".to_owned(),
        }
    }
}

impl StateStoreConfig {
    /// The Redis URL with any password replaced by `****`, for logs and reports.
    pub fn redacted_url(&self) -> String {
        redact_url_password(&self.redis_url)
    }
}

/// A provider: a vendor endpoint speaking one wire protocol.
///
/// An entry named like a built-in provider (`openai`, `groq`, …) is merged field by field
/// over the built-in; any other name defines a custom provider and must give `api`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// The wire protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<WireApi>,
    /// The endpoint, e.g. `https://api.openai.com/v1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Extra headers sent with every request. Their values may be credentials, so they
    /// never print and serialize as `[redacted]`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        with = "redact::redacted_values"
    )]
    pub headers: BTreeMap<String, String>,
    /// Models this provider serves; empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Our model name -> the upstream id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    /// Time limit of one request (overrides `defaults.request_timeout_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Longest silence allowed inside a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_idle_timeout_seconds: Option<u64>,
    /// Order among providers serving the same model (lower first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Relative share among providers (informational for now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Overrides `defaults.cooldown_seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_seconds: Option<u64>,
    /// Overrides `defaults.quarantine_seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_seconds: Option<u64>,
    /// Overrides `defaults.max_consecutive_failures`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<u32>,
    /// Overrides `defaults.max_retries`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// OpenAI protocol: send `stream_options.include_usage` (vendors that reject it say false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_usage: Option<bool>,
    /// Anthropic protocol: `max_tokens` when the call gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_max_tokens: Option<u32>,
    /// Azure OpenAI: the `api-version` query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Gemini protocols: inline data (PDFs, images) above this many bytes in total is
    /// uploaded through the Files API (AI Studio) or refused (Vertex). Default 20 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_limit_bytes: Option<u64>,
}

macro_rules! overlay {
    ($base:ident, $over:ident, $($field:ident),*) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field.clone(); } )*
    };
}

impl From<&catalogue::BuiltinProvider> for ProviderConfig {
    /// A built-in provider's settings.
    fn from(builtin: &catalogue::BuiltinProvider) -> Self {
        Self {
            api: Some(builtin.api),
            base_url: builtin.base_url.map(str::to_owned),
            stream_usage: Some(builtin.stream_usage),
            ..Self::default()
        }
    }
}

impl ProviderConfig {
    /// `self` (a built-in's settings) with every field `over` sets laid on top.
    pub fn merged_with(&self, over: &ProviderConfig) -> ProviderConfig {
        let mut merged = self.clone();
        overlay!(
            merged,
            over,
            api,
            base_url,
            timeout_seconds,
            stream_idle_timeout_seconds,
            priority,
            weight,
            cooldown_seconds,
            quarantine_seconds,
            max_consecutive_failures,
            max_retries,
            stream_usage,
            default_max_tokens,
            api_version,
            inline_limit_bytes
        );
        merged.headers.extend(over.headers.clone());
        merged.aliases.extend(over.aliases.clone());
        if !over.models.is_empty() {
            merged.models = over.models.clone();
        }
        merged
    }

    /// The health policy of this provider under `defaults`.
    pub fn health_policy(&self, defaults: &DefaultsConfig) -> HealthPolicy {
        HealthPolicy {
            cooldown_ms: seconds_to_ms(self.cooldown_seconds.unwrap_or(defaults.cooldown_seconds)),
            quarantine_ms: seconds_to_ms(
                self.quarantine_seconds
                    .unwrap_or(defaults.quarantine_seconds),
            ),
            max_consecutive_failures: self
                .max_consecutive_failures
                .unwrap_or(defaults.max_consecutive_failures),
            dead_after_failed_probes: defaults.dead_key_after_failed_probes,
        }
    }

    /// The retry budget under `defaults`.
    pub fn max_retries(&self, defaults: &DefaultsConfig) -> u32 {
        self.max_retries.unwrap_or(defaults.max_retries)
    }

    /// The upstream id of `model` at this provider (alias, else the name itself).
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.aliases.get(model).map_or(model, String::as_str)
    }
}

/// Seconds as milliseconds, saturating (validation keeps durations far below that).
pub(crate) fn seconds_to_ms(seconds: u64) -> u64 {
    seconds.saturating_mul(1000)
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LMRotateConfig {
    /// Defaults for every provider.
    pub defaults: DefaultsConfig,
    /// Providers, merged over the built-in catalogue.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The keys, in configuration order.
    pub keys: Vec<KeyConfig>,
    /// Model name -> the ordered (provider, upstream model) steps to try.
    pub fallback_chains: BTreeMap<String, Vec<FallbackEntry>>,
    /// Where health and usage live.
    pub state_store: StateStoreConfig,
    /// Prices per model (USD per million tokens), over the built-in table.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, crate::price::ModelPrice>,
    /// The `gateway:` section, which belongs to the `llm-rotate` binary: kept as written
    /// for it to read and check, ignored by the library.
    #[serde(skip_serializing)]
    pub gateway: Option<ForeignSection>,
}

/// A section of the config file that belongs to another program (the `llm-rotate`
/// binary's `gateway:`), kept as it was written. It may hold credentials, so it never
/// prints and is never written back out.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ForeignSection(serde_json::Value);

impl ForeignSection {
    /// A section holding `value`.
    pub fn new(value: serde_json::Value) -> Self {
        Self(value)
    }

    /// The section as it was written.
    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }
}

impl std::fmt::Debug for ForeignSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignSection { .. }")
    }
}

/// Settings that override a loaded registry (the seed's `strategy`, `priorities`,
/// `fallback_chains` arguments).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces `defaults.selection_strategy`.
    pub strategy: Option<Strategy>,
    /// Key id -> priority, replacing each named key's `priority`.
    pub priorities: Option<HashMap<String, i64>>,
    /// Chains added to (and replacing same-named) `fallback_chains`.
    pub fallback_chains: Option<HashMap<String, Vec<FallbackEntry>>>,
}

impl Overrides {
    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Sets the priorities map.
    pub fn priorities(mut self, priorities: HashMap<String, i64>) -> Self {
        self.priorities = Some(priorities);
        self
    }

    /// Sets the fallback chains.
    pub fn fallback_chains(mut self, chains: HashMap<String, Vec<FallbackEntry>>) -> Self {
        self.fallback_chains = Some(chains);
        self
    }
}

impl LMRotateConfig {
    /// Reads a config from a JSON value, with paths and nearest-field hints in errors.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigurationError> {
        deserialize_with_path(value)
    }

    /// Keeps only the keys named in `use_keys`, in the config's order; an unknown id is an error.
    pub fn retain_keys<S: AsRef<str>>(&mut self, use_keys: &[S]) -> Result<(), ConfigurationError> {
        let known: HashSet<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        for (i, id) in use_keys.iter().enumerate() {
            if !known.contains(id.as_ref()) {
                return Err(ConfigurationError::new(
                    format!("use_keys[{i}]"),
                    format!("the registry has no key `{}`", id.as_ref()),
                ));
            }
        }
        let wanted: HashSet<&str> = use_keys.iter().map(AsRef::as_ref).collect();
        self.keys.retain(|k| wanted.contains(k.id.as_str()));
        Ok(())
    }

    /// Applies the seed's override arguments.
    pub fn apply_overrides(&mut self, overrides: &Overrides) -> Result<(), ConfigurationError> {
        if let Some(strategy) = overrides.strategy {
            self.defaults.selection_strategy = strategy;
        }
        if let Some(priorities) = &overrides.priorities {
            for (id, priority) in priorities {
                let key = self.keys.iter_mut().find(|k| &k.id == id).ok_or_else(|| {
                    ConfigurationError::new(
                        format!("priorities.{id}"),
                        format!("no key `{id}` is in use"),
                    )
                })?;
                key.priority = *priority;
            }
        }
        if let Some(chains) = &overrides.fallback_chains {
            for (name, chain) in chains {
                self.fallback_chains.insert(name.clone(), chain.clone());
            }
        }
        Ok(())
    }

    /// The provider named `name`: the user's entry merged over the built-in one.
    pub fn provider(&self, name: &str) -> Option<ProviderConfig> {
        match (catalogue::builtin(name), self.providers.get(name)) {
            (Some(builtin), Some(user)) => Some(ProviderConfig::from(builtin).merged_with(user)),
            (Some(builtin), None) => Some(ProviderConfig::from(builtin)),
            (None, Some(user)) => Some(user.clone()),
            (None, None) => None,
        }
    }

    /// True when `name` is a built-in or configured provider.
    pub fn has_provider(&self, name: &str) -> bool {
        catalogue::builtin(name).is_some() || self.providers.contains_key(name)
    }
}
