//! The configuration models, their defaults, parsing with paths, and validation.
//!
//! Every model rejects unknown fields (naming the nearest valid one), and
//! [`LMRotateConfig::validate`] checks every rule of the spec, each failure a
//! [`ConfigurationError`] with a path such as `keys[2].provider`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalogue;
use crate::error::ConfigurationError;
use crate::health::HealthPolicy;
use crate::secret::Secret;
use crate::strategy::Strategy;

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
    /// Transient failures in a row that quarantine a key.
    pub max_consecutive_failures: u32,
    /// Time limit of one upstream request.
    pub request_timeout_seconds: u64,
    /// Longest silence allowed inside a stream.
    pub stream_idle_timeout_seconds: u64,
}

impl Default for DefaultsConfig {
    fn default() -> Self {
        Self {
            selection_strategy: Strategy::HealthAware,
            max_retries: 3,
            cooldown_seconds: 60,
            quarantine_seconds: 300,
            max_consecutive_failures: 5,
            request_timeout_seconds: 60,
            stream_idle_timeout_seconds: 60,
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
    /// The Redis server, e.g. `redis://localhost:6379/0`.
    pub redis_url: String,
    /// Prefix of every Redis key.
    pub redis_namespace: String,
}

impl Default for StateStoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: "redis://localhost:6379/0".to_owned(),
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

impl fmt::Debug for StateStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStoreConfig")
            .field("backend", &self.backend)
            .field("redis_url", &self.redacted_url())
            .field("redis_namespace", &self.redis_namespace)
            .finish()
    }
}

/// Replaces the password of `scheme://user:password@host` with `****`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{}://{}:****@{}", &url[..scheme_end], user, &rest[at + 1..])
}

/// A vendor wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireApi {
    /// OpenAI Chat Completions (and every OpenAI-compatible vendor, Azure included).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google AI Studio (Gemini API).
    Gemini,
    /// Google Vertex AI.
    Vertex,
}

impl WireApi {
    /// `openai`, `anthropic`, `gemini` or `vertex`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
        }
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
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "redacted_values")]
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

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry credentials: show their names only.
        let header_names: Vec<&String> = self.headers.keys().collect();
        f.debug_struct("ProviderConfig")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("headers", &header_names)
            .field("models", &self.models)
            .field("aliases", &self.aliases)
            .field("timeout_seconds", &self.timeout_seconds)
            .field(
                "stream_idle_timeout_seconds",
                &self.stream_idle_timeout_seconds,
            )
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("cooldown_seconds", &self.cooldown_seconds)
            .field("quarantine_seconds", &self.quarantine_seconds)
            .field("max_consecutive_failures", &self.max_consecutive_failures)
            .field("max_retries", &self.max_retries)
            .field("stream_usage", &self.stream_usage)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("api_version", &self.api_version)
            .field("inline_limit_bytes", &self.inline_limit_bytes)
            .finish()
    }
}

mod redacted_values {
    //! Serde for maps whose values may be secrets: written as `[redacted]`, and a
    //! `[redacted]` value read back is refused.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::REDACTED;

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<String, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.keys().map(|k| (k, REDACTED)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        if let Some((name, _)) = map.iter().find(|(_, v)| v.as_str() == REDACTED) {
            return Err(serde::de::Error::custom(format!(
                "header `{name}` was redacted when the config was written out; give its real value"
            )));
        }
        Ok(map)
    }
}

macro_rules! overlay {
    ($base:ident, $over:ident, $($field:ident),*) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field.clone(); } )*
    };
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
            cooldown_ms: self.cooldown_seconds.unwrap_or(defaults.cooldown_seconds) * 1000,
            quarantine_ms: self
                .quarantine_seconds
                .unwrap_or(defaults.quarantine_seconds)
                * 1000,
            max_consecutive_failures: self
                .max_consecutive_failures
                .unwrap_or(defaults.max_consecutive_failures),
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

fn default_weight() -> u32 {
    1
}

fn default_true() -> bool {
    true
}

/// One API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A unique id, shown wherever the key must be named.
    pub id: String,
    /// The provider it belongs to.
    pub provider: String,
    /// The key itself (exactly one of `value` and `env`; for a Vertex service account,
    /// `metadata.credentials_file` may name a JSON key file instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Secret>,
    /// The environment variable holding the key, read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Share under the `weighted` strategy.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Order under the `priority` strategy (lower first).
    #[serde(default)]
    pub priority: i64,
    /// False keeps the key configured but unused.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Models this key may serve; empty means all its provider serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// A per-key endpoint (Azure resources, self-hosted servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Local budget: requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Local budget: tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Local budget: requests per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Free-form data for the adapter (`project_id`, `location`, `deployment`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl KeyConfig {
    /// A key for `provider` holding `value`, with every other field at its default.
    pub fn new(
        id: impl Into<String>,
        provider: impl Into<String>,
        value: impl Into<Secret>,
    ) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            value: Some(value.into()),
            env: None,
            weight: 1,
            priority: 0,
            enabled: true,
            models: Vec::new(),
            base_url: None,
            rpm: None,
            tpm: None,
            rpd: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The key's value: `value`, or the variable `env` names.
    pub fn resolve_secret(&self) -> Result<Secret, ConfigurationError> {
        match (&self.value, &self.env) {
            (Some(value), None) => Ok(value.clone()),
            (None, Some(var)) => std::env::var(var).map(Secret::new).map_err(|_| {
                ConfigurationError::new("env", format!("environment variable `{var}` is not set"))
            }),
            (Some(_), Some(_)) => Err(ConfigurationError::new(
                "",
                "give either `value` or `env`, not both",
            )),
            (None, None) => match self.metadata.get("credentials_file") {
                Some(path) => std::fs::read_to_string(path).map(Secret::new).map_err(|e| {
                    ConfigurationError::new(
                        "metadata.credentials_file",
                        format!("cannot read `{path}`: {e}"),
                    )
                }),
                None => Err(ConfigurationError::new(
                    "",
                    "give one of `value`, `env` or `metadata.credentials_file`",
                )),
            },
        }
    }

    /// True when the key may serve `model` (its allow-list is empty or names it).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
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
    /// Settings of the `llm-rotate serve` gateway (ignored by the library).
    #[serde(skip_serializing_if = "GatewayConfig::is_default")]
    pub gateway: GatewayConfig,
}

/// A credential given in the config: the value itself, or `{env: VAR}` naming the
/// environment variable that holds it (read at load time).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// The value.
    Value(Secret),
    /// `{env: VAR}`.
    Env {
        /// The variable's name.
        env: String,
    },
}

impl SecretSource {
    /// The credential (reading the environment for `{env}`).
    pub fn resolve(&self) -> Result<Secret, ConfigurationError> {
        match self {
            Self::Value(secret) => Ok(secret.clone()),
            Self::Env { env } => std::env::var(env).map(Secret::new).map_err(|_| {
                ConfigurationError::new("env", format!("environment variable `{env}` is not set"))
            }),
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(secret) => secret.fmt(f),
            Self::Env { env } => f.debug_struct("Env").field("env", env).finish(),
        }
    }
}

/// The gateway's settings (`gateway:` in the config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where to listen when `--listen` is not given.
    pub listen: String,
    /// Tokens clients send as `Authorization: Bearer …` (or `x-goog-api-key`, `api-key`).
    /// Empty: no authentication (only sensible on a private interface).
    pub tokens: Vec<SecretSource>,
    /// Tokens allowed to call `POST /admin/reload` (gateway tokens are not).
    pub admin_tokens: Vec<SecretSource>,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: u64,
    /// How long a client may take to send its request head.
    pub header_read_timeout_seconds: u64,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout_seconds: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            tokens: Vec::new(),
            admin_tokens: Vec::new(),
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout_seconds: 10,
            drain_timeout_seconds: 30,
        }
    }
}

impl GatewayConfig {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }

    fn validate(&self) -> Result<(), ConfigurationError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigurationError::new(
                "gateway.listen",
                format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigurationError::new(
                "gateway.max_body_bytes",
                "must be above 0",
            ));
        }
        for (name, list) in [
            ("tokens", &self.tokens),
            ("admin_tokens", &self.admin_tokens),
        ] {
            for (i, token) in list.iter().enumerate() {
                let path = format!("gateway.{name}[{i}]");
                let secret = token.resolve().map_err(|e| e.within(&path))?;
                if secret.expose().trim().is_empty() {
                    return Err(ConfigurationError::new(path, "a token must not be empty"));
                }
            }
        }
        Ok(())
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
            (Some(builtin), Some(user)) => Some(builtin.config().merged_with(user)),
            (Some(builtin), None) => Some(builtin.config()),
            (None, Some(user)) => Some(user.clone()),
            (None, None) => None,
        }
    }

    /// True when `name` is a built-in or configured provider.
    pub fn has_provider(&self, name: &str) -> bool {
        catalogue::builtin(name).is_some() || self.providers.contains_key(name)
    }

    /// Checks every validation rule; the first failure is returned with its path.
    pub fn validate(&self) -> Result<(), ConfigurationError> {
        self.validate_with(&[])
    }

    /// Like [`validate`](Self::validate), with `custom` naming providers whose adapters
    /// are registered in code (they need no `api` and count as known).
    pub fn validate_with(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        self.validate_defaults()?;
        self.validate_providers(custom)?;
        self.validate_keys(custom)?;
        self.validate_weights()?;
        self.validate_chains(custom)?;
        if self.state_store.redis_namespace.is_empty() {
            return Err(ConfigurationError::new(
                "state_store.redis_namespace",
                "the namespace must not be empty",
            ));
        }
        self.gateway.validate()
    }

    fn validate_defaults(&self) -> Result<(), ConfigurationError> {
        if self.defaults.max_consecutive_failures == 0 {
            return Err(ConfigurationError::new(
                "defaults.max_consecutive_failures",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_providers(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        for (name, provider) in &self.providers {
            let path = format!("providers.{name}");
            if catalogue::builtin(name).is_none()
                && provider.api.is_none()
                && !custom.contains(&name.as_str())
            {
                return Err(ConfigurationError::new(
                    format!("{path}.api"),
                    "a custom provider must say which wire protocol it speaks (openai, anthropic, gemini, vertex)",
                ));
            }
            if provider.max_consecutive_failures == Some(0) {
                return Err(ConfigurationError::new(
                    format!("{path}.max_consecutive_failures"),
                    "must be at least 1",
                ));
            }
            if let Some(url) = &provider.base_url {
                check_base_url(url)
                    .map_err(|m| ConfigurationError::new(format!("{path}.base_url"), m))?;
            }
        }
        Ok(())
    }

    fn validate_keys(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, key) in self.keys.iter().enumerate() {
            let path = format!("keys[{i}]");
            if key.id.trim().is_empty() {
                return Err(ConfigurationError::new(
                    format!("{path}.id"),
                    "the id must not be empty",
                ));
            }
            if let Some(first) = seen.insert(key.id.as_str(), i) {
                return Err(ConfigurationError::new(
                    format!("{path}.id"),
                    format!("duplicate key id `{}` (also keys[{first}])", key.id),
                ));
            }
            let provider = self.provider(&key.provider);
            if provider.is_none() && !custom.contains(&key.provider.as_str()) {
                return Err(ConfigurationError::new(
                    format!("{path}.provider"),
                    format!(
                        "unknown provider `{}`{}",
                        key.provider,
                        suggestion(&key.provider, self.provider_names())
                    ),
                ));
            }
            let secret = key.resolve_secret().map_err(|e| e.within(&path))?;
            if let Some(url) = &key.base_url {
                check_base_url(url)
                    .map_err(|m| ConfigurationError::new(format!("{path}.base_url"), m))?;
            }
            if provider.and_then(|p| p.api) == Some(WireApi::Vertex) {
                check_vertex_key(key, &secret).map_err(|e| e.within(&path))?;
            }
        }
        Ok(())
    }

    fn validate_weights(&self) -> Result<(), ConfigurationError> {
        if self.defaults.selection_strategy != Strategy::Weighted {
            return Ok(());
        }
        let mut by_provider: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for key in self.keys.iter().filter(|k| k.enabled) {
            let entry = by_provider.entry(key.provider.as_str()).or_default();
            entry.0 += 1;
            if key.weight == 0 {
                entry.1 += 1;
            }
        }
        for (provider, (total, zero)) in by_provider {
            if total > 0 && total == zero {
                let first = self
                    .keys
                    .iter()
                    .position(|k| k.provider == provider)
                    .unwrap_or(0);
                return Err(ConfigurationError::new(
                    format!("keys[{first}].weight"),
                    format!("every key of provider `{provider}` has weight 0 under the weighted strategy"),
                ));
            }
        }
        Ok(())
    }

    fn validate_chains(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        for (name, chain) in &self.fallback_chains {
            if chain.is_empty() {
                return Err(ConfigurationError::new(
                    format!("fallback_chains.{name}"),
                    "a chain needs at least one entry",
                ));
            }
            for (i, entry) in chain.iter().enumerate() {
                if !self.has_provider(&entry.provider) && !custom.contains(&entry.provider.as_str())
                {
                    return Err(ConfigurationError::new(
                        format!("fallback_chains.{name}[{i}].provider"),
                        format!(
                            "unknown provider `{}`{}",
                            entry.provider,
                            suggestion(&entry.provider, self.provider_names())
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn provider_names(&self) -> impl Iterator<Item = &str> {
        catalogue::BUILTINS
            .iter()
            .map(|b| b.name)
            .chain(self.providers.keys().map(String::as_str))
    }
}

fn check_vertex_key(key: &KeyConfig, secret: &Secret) -> Result<(), ConfigurationError> {
    if key.metadata.contains_key("project_id")
        || key.metadata.get("mode").map(String::as_str) == Some("express")
    {
        return Ok(());
    }
    let from_value = serde_json::from_str::<serde_json::Value>(secret.expose())
        .ok()
        .and_then(|v| {
            v.get("project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    let from_file = key
        .metadata
        .get("credentials_file")
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| {
            v.get("project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    if from_value.is_some() || from_file.is_some() {
        return Ok(());
    }
    Err(ConfigurationError::new(
        "metadata.project_id",
        "a Vertex key needs `metadata.project_id` (or a service-account JSON that has one, or `metadata.mode: express` for an API key)",
    ))
}

/// Checks that `url` is an absolute http(s) URL with a host; `{placeholders}` are allowed.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}` contains white space"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
        _ => (host_port, None),
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!("`{url}` has an invalid port `{port}`"));
        }
    }
    Ok(())
}

/// Deserializes `T` from a JSON value, turning the error into a [`ConfigurationError`]
/// with the path of the offending field, secrets scrubbed from the message, and the
/// nearest valid name suggested for unknown fields and variants.
pub fn deserialize_with_path<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ConfigurationError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = explain_serde_message(&err.into_inner().to_string());
        ConfigurationError::new(path, message)
    })
}

/// Rewrites a serde message: scrubs quoted string values (they may be keys) and adds a
/// "did you mean" for unknown fields and variants.
pub fn explain_serde_message(message: &str) -> String {
    let scrubbed = scrub_string_values(message);
    for what in ["unknown field", "unknown variant"] {
        if let Some(rest) = scrubbed.strip_prefix(what) {
            if let Some((given, expected)) = parse_unknown(rest) {
                let hint = suggestion(&given, expected.iter().map(String::as_str));
                let list = expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return format!("{what} `{given}`{hint}; expected one of {list}");
            }
        }
    }
    scrubbed
}

fn parse_unknown(rest: &str) -> Option<(String, Vec<String>)> {
    let rest = rest.trim_start().strip_prefix('`')?;
    let (given, rest) = rest.split_once('`')?;
    let expected_part = rest
        .split_once("expected one of ")
        .map(|(_, e)| e)
        .or_else(|| rest.split_once("expected ").map(|(_, e)| e))?;
    let expected: Vec<String> = expected_part
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect();
    Some((given.to_owned(), expected))
}

fn scrub_string_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find("string \"") {
        let (head, tail) = rest.split_at(pos + "string \"".len());
        out.push_str(head);
        match tail.find('"') {
            Some(end) => {
                out.push_str("…\"");
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str("…\"");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `"; did you mean `x`?"` for the candidate nearest to `given`, or `""` when none is close.
pub fn suggestion<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(given, c), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= given.chars().count().max(3) / 2 + 1 => {
            format!("; did you mean `{c}`?")
        }
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<LMRotateConfig, ConfigurationError> {
        let config = LMRotateConfig::from_value(v)?;
        config.validate()?;
        Ok(config)
    }

    fn err(v: serde_json::Value) -> ConfigurationError {
        parse(v).expect_err("config should be refused")
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c.defaults.selection_strategy, Strategy::HealthAware);
        assert_eq!(c.defaults.max_retries, 3);
        assert_eq!(c.defaults.cooldown_seconds, 60);
        assert_eq!(c.defaults.quarantine_seconds, 300);
        assert_eq!(c.defaults.max_consecutive_failures, 5);
        assert_eq!(c.state_store.backend, StoreBackend::Memory);
        assert_eq!(c.state_store.redis_url, "redis://localhost:6379/0");
        assert_eq!(c.state_store.redis_namespace, "llmrotate");
        let k: KeyConfig =
            serde_json::from_value(json!({"id":"a","provider":"openai","value":"x"})).unwrap();
        assert_eq!((k.weight, k.priority, k.enabled), (1, 0, true));
    }

    #[test]
    fn unknown_fields_name_the_nearest_valid_one() {
        let e = err(json!({"defaults": {"cooldown_secs": 5}}));
        assert_eq!(e.path(), "defaults.cooldown_secs");
        assert!(e.message().contains("unknown field `cooldown_secs`"), "{e}");
        assert!(
            e.message().contains("did you mean `cooldown_seconds`?"),
            "{e}"
        );
        let e = err(json!({"keyz": []}));
        assert!(e.message().contains("did you mean `keys`?"), "{e}");
    }

    #[test]
    fn unknown_strategy_and_backend_are_refused_with_paths() {
        let e = err(json!({"defaults": {"selection_strategy": "fastest"}}));
        assert_eq!(e.path(), "defaults.selection_strategy");
        assert!(e.message().contains("unknown variant `fastest`"), "{e}");
        let e = err(json!({"state_store": {"backend": "redls"}}));
        assert_eq!(e.path(), "state_store.backend");
        assert!(e.message().contains("did you mean `redis`?"), "{e}");
    }

    #[test]
    fn duplicate_key_ids_are_refused() {
        let e = err(json!({"keys": [
            {"id": "a", "provider": "openai", "value": "x"},
            {"id": "a", "provider": "openai", "value": "y"}
        ]}));
        assert_eq!(e.path(), "keys[1].id");
        assert!(e.message().contains("duplicate key id `a`"));
    }

    #[test]
    fn unknown_provider_is_refused_with_a_hint() {
        let e = err(json!({"keys": [{"id": "a", "provider": "opneai", "value": "x"}]}));
        assert_eq!(e.path(), "keys[0].provider");
        assert!(e.message().contains("did you mean `openai`?"), "{e}");
    }

    #[test]
    fn value_and_env_are_exclusive_and_required() {
        let e = err(json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "env": "Y"}]}));
        assert_eq!(e.path(), "keys[0]");
        assert!(e.message().contains("not both"));
        let e = err(json!({"keys": [{"id": "a", "provider": "openai"}]}));
        assert_eq!(e.path(), "keys[0]");
        assert!(e.message().contains("one of `value`, `env`"));
        let e = err(
            json!({"keys": [{"id": "v", "provider": "vertex", "metadata": {"credentials_file": "/nonexistent/sa.json"}}]}),
        );
        assert_eq!(e.path(), "keys[0].metadata.credentials_file");
        assert!(e.message().contains("/nonexistent/sa.json"), "{e}");
    }

    #[test]
    fn gateway_settings_are_checked() {
        let e = err(json!({"gateway": {"listen": "localhost"}}));
        assert_eq!(e.path(), "gateway.listen");
        let e = err(json!({"gateway": {"tokens": ["ok", ""]}}));
        assert_eq!(e.path(), "gateway.tokens[1]");
        let e =
            err(json!({"gateway": {"admin_tokens": [{"env": "LLM_ROTATE_UNIT_TEST_UNSET_VAR"}]}}));
        assert_eq!(e.path(), "gateway.admin_tokens[0].env");
        let e = err(json!({"gateway": {"max_body_bytes": 0}}));
        assert_eq!(e.path(), "gateway.max_body_bytes");
        let e = err(json!({"gateway": {"tokens": ["a"], "tokenz": 1}}));
        assert!(e.message().contains("tokens"), "{e}");
        let config =
            parse(json!({"gateway": {"tokens": ["gw-secret-token-1", {"env": "PATH"}]}})).unwrap();
        assert!(!format!("{config:?}").contains("gw-secret-token-1"));
        let written = serde_json::to_string(&config).unwrap();
        assert!(!written.contains("gw-secret-token-1"), "{written}");
    }

    #[test]
    fn missing_env_var_is_named() {
        let e = err(
            json!({"keys": [{"id": "a", "provider": "openai", "env": "LLM_ROTATE_UNIT_TEST_UNSET_VAR"}]}),
        );
        assert_eq!(e.path(), "keys[0].env");
        assert!(e.message().contains("LLM_ROTATE_UNIT_TEST_UNSET_VAR"));
    }

    #[test]
    fn all_zero_weights_under_weighted_are_refused() {
        let e = err(
            json!({"defaults": {"selection_strategy": "weighted"}, "keys": [
                {"id": "a", "provider": "openai", "value": "x", "weight": 0},
                {"id": "b", "provider": "openai", "value": "y", "weight": 0}
            ]}),
        );
        assert_eq!(e.path(), "keys[0].weight");
        let ok = parse(
            json!({"defaults": {"selection_strategy": "weighted"}, "keys": [
                {"id": "a", "provider": "openai", "value": "x", "weight": 0},
                {"id": "b", "provider": "openai", "value": "y", "weight": 2}
            ]}),
        );
        assert!(ok.is_ok());
        let other_strategy =
            parse(json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "weight": 0}]}));
        assert!(other_strategy.is_ok());
    }

    #[test]
    fn fallback_entries_must_name_known_providers() {
        let e = err(
            json!({"fallback_chains": {"smart": [{"provider": "openai"}, {"provider": "antropic", "upstream": "claude-x"}]}}),
        );
        assert_eq!(e.path(), "fallback_chains.smart[1].provider");
        assert!(e.message().contains("did you mean `anthropic`?"));
        let e = err(json!({"fallback_chains": {"smart": []}}));
        assert_eq!(e.path(), "fallback_chains.smart");
    }

    #[test]
    fn zero_max_consecutive_failures_is_refused() {
        let e = err(json!({"defaults": {"max_consecutive_failures": 0}}));
        assert_eq!(e.path(), "defaults.max_consecutive_failures");
        let e = err(json!({"providers": {"openai": {"max_consecutive_failures": 0}}}));
        assert_eq!(e.path(), "providers.openai.max_consecutive_failures");
    }

    #[test]
    fn malformed_base_urls_are_refused() {
        for bad in [
            "ftp://x",
            "localhost:8080",
            "http://",
            "http://host:99999/v1",
            "http://a b",
        ] {
            let e = err(json!({"providers": {"openai": {"base_url": bad}}}));
            assert_eq!(e.path(), "providers.openai.base_url", "{bad}");
        }
        let e = err(
            json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "base_url": "nope"}]}),
        );
        assert_eq!(e.path(), "keys[0].base_url");
        for good in [
            "http://127.0.0.1:8080/v1",
            "https://api.openai.com/v1",
            "https://{location}-aiplatform.googleapis.com/v1",
        ] {
            assert!(check_base_url(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn vertex_keys_need_a_project() {
        let e = err(json!({"keys": [{"id": "v", "provider": "vertex", "value": "AIza-not-json"}]}));
        assert_eq!(e.path(), "keys[0].metadata.project_id");
        assert!(parse(json!({"keys": [{"id": "v", "provider": "vertex", "value": "x", "metadata": {"project_id": "p"}}]})).is_ok());
        assert!(parse(
            json!({"keys": [{"id": "v", "provider": "vertex", "value": "{\"project_id\":\"p\"}"}]})
        )
        .is_ok());
        assert!(parse(json!({"keys": [{"id": "v", "provider": "vertex", "value": "x", "metadata": {"mode": "express"}}]})).is_ok());
    }

    #[test]
    fn custom_providers_need_an_api() {
        let e = err(json!({"providers": {"local": {"base_url": "http://127.0.0.1:1/v1"}}}));
        assert_eq!(e.path(), "providers.local.api");
        assert!(parse(
            json!({"providers": {"local": {"api": "openai", "base_url": "http://127.0.0.1:1/v1"}},
            "keys": [{"id": "l", "provider": "local", "value": "x"}]})
        )
        .is_ok());
    }

    #[test]
    fn wrong_types_never_echo_string_values() {
        let e = err(
            json!({"keys": [{"id": "a", "provider": "openai", "value": "x", "weight": "sk-secret-value-123456"}]}),
        );
        assert_eq!(e.path(), "keys[0].weight");
        assert!(!e.to_string().contains("sk-secret"), "{e}");
    }

    #[test]
    fn use_keys_filters_in_config_order_and_names_unknown_ids() {
        let mut c = parse(json!({"keys": [
            {"id": "a", "provider": "openai", "value": "x"},
            {"id": "b", "provider": "openai", "value": "y"},
            {"id": "c", "provider": "openai", "value": "z"}
        ]}))
        .unwrap();
        c.retain_keys(&["c", "a"]).unwrap();
        assert_eq!(
            c.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let e = c.retain_keys(&["a", "nope"]).unwrap_err();
        assert_eq!(e.path(), "use_keys[1]");
    }

    #[test]
    fn overrides_apply() {
        let mut c =
            parse(json!({"keys": [{"id": "a", "provider": "openai", "value": "x"}]})).unwrap();
        let overrides = Overrides::default()
            .strategy(Strategy::Priority)
            .priorities(HashMap::from([("a".to_owned(), 7)]))
            .fallback_chains(HashMap::from([(
                "m".to_owned(),
                vec![FallbackEntry::new("openai", Some("gpt-x"))],
            )]));
        c.apply_overrides(&overrides).unwrap();
        assert_eq!(c.defaults.selection_strategy, Strategy::Priority);
        assert_eq!(c.keys[0].priority, 7);
        assert_eq!(c.fallback_chains["m"][0].upstream.as_deref(), Some("gpt-x"));
        let bad = Overrides::default().priorities(HashMap::from([("zz".to_owned(), 1)]));
        assert_eq!(c.apply_overrides(&bad).unwrap_err().path(), "priorities.zz");
    }

    #[test]
    fn user_providers_merge_over_builtins() {
        let c = parse(json!({"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1", "max_retries": 1}}})).unwrap();
        let p = c.provider("openai").unwrap();
        assert_eq!(p.api, Some(WireApi::Openai));
        assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(p.max_retries, Some(1));
        let groq = c.provider("groq").unwrap();
        assert_eq!(
            groq.base_url.as_deref(),
            Some("https://api.groq.com/openai/v1")
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = parse(json!({
            "providers": {"local": {"api": "openai", "base_url": "http://127.0.0.1:1/v1", "headers": {"X-Token": "hdr-secret"}}},
            "keys": [{"id": "a", "provider": "local", "value": "sk-very-secret-value"}],
            "state_store": {"redis_url": "redis://user:redis-pass@host:6379/0"}
        })).unwrap();
        let shown = format!("{c:?}");
        for secret in ["sk-very-secret-value", "hdr-secret", "redis-pass"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("sk-very-secret-value"));
    }
}
