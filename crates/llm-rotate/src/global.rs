//! The process-wide instance: `configure` once, then `lm()` anywhere.

use std::collections::HashMap;
use std::sync::OnceLock;

use rotate_core::config::Overrides;
use rotate_core::{ConfigurationError, FallbackEntry, LMRotateConfig, Strategy};

use crate::client::LMRotate;
use crate::load::configure_from_dict;

static INSTANCE: OnceLock<LMRotate> = OnceLock::new();

/// What [`configure`] is given: exactly one of `config` or `registry` (with `use_keys`),
/// plus optional overrides.
#[derive(Debug, Clone, Default)]
pub struct ConfigureOptions {
    /// Ids of the registry's keys to use (with `registry`; with `config`, a filter).
    pub use_keys: Option<Vec<String>>,
    /// A registry (the team's whole catalogue) as JSON.
    pub registry: Option<serde_json::Value>,
    /// A ready config.
    pub config: Option<LMRotateConfig>,
    /// Replaces the selection strategy.
    pub strategy: Option<Strategy>,
    /// Key id -> priority.
    pub priorities: Option<HashMap<String, i64>>,
    /// Chains added to (or replacing) the config's.
    pub fallback_chains: Option<HashMap<String, Vec<FallbackEntry>>>,
}

impl ConfigureOptions {
    /// Uses a ready config.
    pub fn config(mut self, config: LMRotateConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Uses a registry.
    pub fn registry(mut self, registry: serde_json::Value) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Picks keys by id.
    pub fn use_keys(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.use_keys = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Sets key priorities.
    pub fn priorities(mut self, priorities: HashMap<String, i64>) -> Self {
        self.priorities = Some(priorities);
        self
    }

    /// Adds fallback chains.
    pub fn fallback_chains(mut self, chains: HashMap<String, Vec<FallbackEntry>>) -> Self {
        self.fallback_chains = Some(chains);
        self
    }

    /// The config these options describe, checked as [`configure`] checks it (exactly
    /// one of `config` and `registry`, a registry with `use_keys`, the overrides applied).
    pub fn into_config(self) -> Result<LMRotateConfig, ConfigurationError> {
        let overrides = Overrides {
            strategy: self.strategy,
            priorities: self.priorities,
            fallback_chains: self.fallback_chains,
        };
        match (self.config, self.registry) {
            (Some(_), Some(_)) => Err(ConfigurationError::new(
                "",
                "give either `config` or `registry`, not both",
            )),
            (None, None) => Err(ConfigurationError::new(
                "",
                "give `config`, or `registry` with `use_keys`",
            )),
            (None, Some(registry)) => {
                let use_keys = self.use_keys.ok_or_else(|| {
                    ConfigurationError::new("use_keys", "a registry needs `use_keys`")
                })?;
                configure_from_dict(registry, use_keys, overrides)
            }
            (Some(mut config), None) => {
                if let Some(ids) = self.use_keys {
                    config.retain_keys(&ids)?;
                }
                config.apply_overrides(&overrides)?;
                config.validate()?;
                Ok(config)
            }
        }
    }
}

/// Sets up the process-wide instance returned by [`lm`]. A second successful call is
/// refused (the first instance stays).
pub fn configure(options: ConfigureOptions) -> Result<(), ConfigurationError> {
    if INSTANCE.get().is_some() {
        return Err(already());
    }
    let client = LMRotate::new(options.into_config()?)?;
    INSTANCE.set(client).map_err(|_| already())
}

fn already() -> ConfigurationError {
    ConfigurationError::new(
        "",
        "llm_rotate::configure was already called in this process",
    )
}

/// The process-wide instance.
///
/// # Panics
/// Before [`configure`] has succeeded; use [`try_lm`] to get an error instead.
pub fn lm() -> &'static LMRotate {
    match INSTANCE.get() {
        Some(client) => client,
        None => panic!("llm_rotate::lm() was called before llm_rotate::configure(..) succeeded"),
    }
}

/// The process-wide instance, or an error before [`configure`] has succeeded.
pub fn try_lm() -> Result<&'static LMRotate, ConfigurationError> {
    INSTANCE.get().ok_or_else(|| {
        ConfigurationError::new("", "llm_rotate::configure(..) has not been called yet")
    })
}
