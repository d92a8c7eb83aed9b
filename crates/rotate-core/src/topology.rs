//! The engine's compiled view of a config: providers, keys, indices, adapters.
//!
//! A [`Topology`] is immutable once built and swapped whole on reload. Key runtimes
//! (health mirror, latency, in-flight) are carried over by key id, adapters by
//! provider name when the provider's settings did not change.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::catalogue;
use crate::config::{DefaultsConfig, LMRotateConfig, ProviderConfig};
use crate::error::ConfigurationError;
use crate::health::HealthPolicy;
use crate::key::KeyRuntime;
use crate::outlier::Outliers;
use crate::provider::{AdapterFactory, KeyInfo, Provider};
use crate::select::{KeySpec, ProviderIndex};
use crate::store::StateStore;
use crate::strategy::Strategy;

/// One step of a plan.
#[derive(Debug, Clone)]
pub(crate) struct PlanEntry {
    pub(crate) provider: usize,
    pub(crate) upstream: Arc<str>,
    pub(crate) pool: usize,
}

/// A configured key, as the engine holds it.
#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub(crate) info: Arc<KeyInfo>,
    pub(crate) runtime: Arc<KeyRuntime>,
    pub(crate) rpm: Option<u64>,
    pub(crate) tpm: Option<u64>,
    pub(crate) rpd: Option<u64>,
    /// The key's quota group (an index into [`Topology::quota_groups`]).
    pub(crate) quota_group: Option<usize>,
}

/// Keys sharing one vendor quota.
#[derive(Debug)]
pub(crate) struct QuotaGroup {
    pub(crate) name: Arc<str>,
    /// (provider, position) of each member.
    pub(crate) members: Vec<(usize, usize)>,
}

/// A provider with its adapter, policy and keys.
pub(crate) struct ProviderSlot {
    pub(crate) name: Arc<str>,
    pub(crate) config: ProviderConfig,
    pub(crate) policy: HealthPolicy,
    pub(crate) max_retries: u32,
    pub(crate) adapter: Arc<dyn Provider>,
    pub(crate) keys: Box<[KeyEntry]>,
    pub(crate) index: ProviderIndex,
    pub(crate) outliers: Outliers,
}

impl std::fmt::Debug for ProviderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSlot")
            .field("name", &self.name)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl ProviderSlot {
    /// True when some enabled key of this provider may serve `model`.
    pub(crate) fn serves(&self, model: &str) -> bool {
        self.index.serves(model)
    }
}

/// Everything the engine needs from one config.
#[derive(Debug)]
pub(crate) struct Topology {
    pub(crate) config: Arc<LMRotateConfig>,
    pub(crate) strategy: Strategy,
    pub(crate) providers: Vec<ProviderSlot>,
    pub(crate) provider_by_name: HashMap<Arc<str>, usize>,
    pub(crate) key_by_id: HashMap<Arc<str>, (usize, usize)>,
    /// (provider, position) of every key, in configuration order.
    pub(crate) key_order: Vec<(usize, usize)>,
    /// Every quota group, in order of first appearance.
    pub(crate) quota_groups: Vec<QuotaGroup>,
    /// What calls cost.
    pub(crate) prices: crate::price::Prices,
    /// The model of an `acquire` that names none (shared, so acquiring allocates nothing).
    pub(crate) no_model: Arc<str>,
    /// Plans of unpinned calls, by model name.
    pub(crate) plans: RwLock<HashMap<Box<str>, Arc<[PlanEntry]>>>,
}

/// Where adapters come from: registered custom ones first, then the factory.
pub(crate) struct Adapters<'a> {
    pub(crate) custom: &'a HashMap<String, Arc<dyn Provider>>,
    pub(crate) factory: Option<&'a dyn AdapterFactory>,
    pub(crate) previous: Option<&'a Topology>,
}

impl Adapters<'_> {
    fn get(
        &self,
        name: &str,
        config: &ProviderConfig,
        defaults: &DefaultsConfig,
    ) -> Result<Arc<dyn Provider>, ConfigurationError> {
        if let Some(adapter) = self.custom.get(name) {
            return Ok(adapter.clone());
        }
        if let Some(previous) = self.previous {
            if let Some(&i) = previous.provider_by_name.get(name) {
                let slot = &previous.providers[i];
                if &slot.config == config && previous.config.defaults == *defaults {
                    return Ok(slot.adapter.clone());
                }
            }
        }
        match self.factory {
            Some(factory) => factory.adapter(name, config, defaults),
            None => Err(ConfigurationError::new(
                format!("providers.{name}"),
                format!("no adapter is registered for provider `{name}`"),
            )),
        }
    }
}

impl Topology {
    /// Compiles a validated config. `previous` lends its key runtimes and adapters.
    pub(crate) fn build(
        config: Arc<LMRotateConfig>,
        adapters: &Adapters<'_>,
        store: &dyn StateStore,
        now_ms: u64,
    ) -> Result<Self, ConfigurationError> {
        let mut names: Vec<&str> = Vec::new();
        for key in &config.keys {
            if !names.contains(&key.provider.as_str()) {
                names.push(&key.provider);
            }
        }
        for chain in config.fallback_chains.values() {
            for entry in chain {
                if !names.contains(&entry.provider.as_str()) {
                    names.push(&entry.provider);
                }
            }
        }

        let mut providers = Vec::with_capacity(names.len());
        let mut provider_by_name = HashMap::new();
        let mut key_by_id = HashMap::new();
        let mut key_order = vec![(0, 0); config.keys.len()];
        let mut quota_groups: Vec<QuotaGroup> = Vec::new();
        for (p, &name) in names.iter().enumerate() {
            let provider_config = config
                .provider(name)
                .or_else(|| {
                    adapters
                        .custom
                        .contains_key(name)
                        .then(ProviderConfig::default)
                })
                .ok_or_else(|| {
                    ConfigurationError::new(
                        format!("providers.{name}"),
                        format!("unknown provider `{name}`"),
                    )
                })?;
            let adapter = adapters.get(name, &provider_config, &config.defaults)?;
            let name: Arc<str> = Arc::from(name);
            let mut keys = Vec::new();
            let mut specs = Vec::new();
            for (i, key) in config
                .keys
                .iter()
                .enumerate()
                .filter(|(_, k)| *k.provider == *name)
            {
                let secret = key
                    .resolve_secret()
                    .map_err(|e| e.within(&format!("keys[{i}]")))?;
                let id: Arc<str> = Arc::from(key.id.as_str());
                let vertex = provider_config
                    .api
                    .is_some_and(crate::config::WireApi::is_vertex);
                let quota_group = key.effective_quota_group(vertex).map(|group| {
                    let at = quota_groups.iter().position(|g| &*g.name == group);
                    let at = at.unwrap_or_else(|| {
                        quota_groups.push(QuotaGroup {
                            name: Arc::from(group),
                            members: Vec::new(),
                        });
                        quota_groups.len() - 1
                    });
                    quota_groups[at].members.push((p, keys.len()));
                    at
                });
                let runtime = adapters
                    .previous
                    .and_then(|prev| prev.runtime_of(&id))
                    .unwrap_or_else(|| Arc::new(KeyRuntime::new(store.state(&id), key.enabled)));
                runtime.set_enabled(key.enabled);
                key_order[i] = (p, keys.len());
                key_by_id.insert(id.clone(), (p, keys.len()));
                specs.push(KeySpec {
                    weight: key.weight,
                    priority: key.priority,
                    models: key.models.clone(),
                });
                keys.push(KeyEntry {
                    info: Arc::new(KeyInfo::new(
                        id,
                        name.clone(),
                        secret,
                        key.base_url.clone(),
                        key.metadata.clone(),
                    )),
                    runtime,
                    rpm: key.rpm,
                    tpm: key.tpm,
                    rpd: key.rpd,
                    quota_group,
                });
            }
            let index = ProviderIndex::new(
                keys.iter().map(|k| k.runtime.clone()).collect(),
                &specs,
                now_ms,
                crate::config::seconds_to_ms(config.defaults.slow_start_seconds),
            );
            let outliers = Outliers::new(
                keys.iter().map(|k| &*k.runtime),
                config.defaults.max_transient_ejection,
            );
            provider_by_name.insert(name.clone(), p);
            providers.push(ProviderSlot {
                policy: provider_config.health_policy(&config.defaults),
                max_retries: provider_config.max_retries(&config.defaults),
                name,
                config: provider_config,
                adapter,
                keys: keys.into_boxed_slice(),
                index,
                outliers,
            });
        }
        let prices = crate::price::Prices::new(&config.prices);
        Ok(Self {
            strategy: config.defaults.selection_strategy,
            config,
            providers,
            provider_by_name,
            key_by_id,
            key_order,
            quota_groups,
            prices,
            no_model: Arc::from(""),
            plans: RwLock::new(HashMap::new()),
        })
    }

    fn runtime_of(&self, id: &str) -> Option<Arc<KeyRuntime>> {
        self.key_by_id
            .get(id)
            .map(|&(p, k)| self.providers[p].keys[k].runtime.clone())
    }

    /// The provider named `name`.
    pub(crate) fn provider(&self, name: &str) -> Option<usize> {
        self.provider_by_name.get(name).copied()
    }

    /// Providers serving `model` by their `models` list or family, in priority order.
    pub(crate) fn providers_for_model(&self, model: &str) -> Vec<usize> {
        let mut found: Vec<usize> = (0..self.providers.len())
            .filter(|&p| {
                let slot = &self.providers[p];
                let listed = if slot.config.models.is_empty() {
                    catalogue::family_matches(&slot.name, model)
                } else {
                    slot.config.models.iter().any(|m| m == model)
                };
                listed && slot.serves(slot.config.upstream_model(model))
            })
            .collect();
        found.sort_by_key(|&p| (self.providers[p].config.priority.unwrap_or(0), p));
        found
    }
}
