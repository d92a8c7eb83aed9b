//! Model resolution: which (provider, upstream model) pairs a call tries, in order.
//!
//! 1. `opts.provider` set: that provider alone (upstream: its alias for the model, or the model);
//! 2. the model names a fallback chain: the chain's entries in order;
//! 3. `provider/name` with a configured provider prefix: that provider, upstream `name`;
//! 4. every provider whose `models` list names the model (or, with an empty list, whose
//!    family matches: gpt-/o-series, claude-, gemini-), in provider priority order.
//!
//! A requested model that names no fallback chain must follow the model-id grammar
//! ([`crate::model_id`]); anything else is refused here, before a key is chosen.

use std::sync::Arc;

use crate::error::{ConfigurationError, LMRotateError, NoAvailableKeyError};
use crate::topology::{PlanEntry, Topology};

/// How many distinct model names keep a cached plan.
const MAX_CACHED_PLANS: usize = 4096;

impl Topology {
    fn entry(&self, provider: usize, upstream: &str) -> PlanEntry {
        let slot = &self.providers[provider];
        let upstream = slot.config.upstream_model(upstream);
        PlanEntry {
            provider,
            pool: slot.index.pool_for(upstream),
            upstream: Arc::from(upstream),
        }
    }

    /// The plan of a call for `model`, optionally pinned to `provider`. Plans of
    /// unpinned calls are computed once per model and shared afterwards.
    pub(crate) fn plan(
        &self,
        model: &str,
        provider: Option<&str>,
    ) -> Result<Arc<[PlanEntry]>, LMRotateError> {
        if provider.is_some() {
            return self
                .resolve(model, provider)
                .and_then(|p| self.accepted(p))
                .map(Arc::from);
        }
        if let Some(plan) = self.plans.read().get(model) {
            return Ok(plan.clone());
        }
        let plan: Arc<[PlanEntry]> = Arc::from(self.accepted(self.resolve(model, None)?)?);
        let mut plans = self.plans.write();
        if plans.len() < MAX_CACHED_PLANS {
            plans.insert(Box::from(model), plan.clone());
        }
        Ok(plan)
    }

    /// `plan`, once every entry's adapter has accepted its upstream model.
    fn accepted(&self, plan: Vec<PlanEntry>) -> Result<Vec<PlanEntry>, LMRotateError> {
        for entry in &plan {
            let adapter = &self.providers[entry.provider].adapter;
            adapter
                .check_model(&entry.upstream)
                .map_err(LMRotateError::Provider)?;
        }
        Ok(plan)
    }

    fn resolve(
        &self,
        model: &str,
        provider: Option<&str>,
    ) -> Result<Vec<PlanEntry>, LMRotateError> {
        let no_key = |providers: Vec<String>| {
            LMRotateError::NoAvailableKey(NoAvailableKeyError {
                model: model.to_owned(),
                providers,
                retry_in: None,
            })
        };
        if !self.config.fallback_chains.contains_key(model) {
            crate::model_id::check(model).map_err(LMRotateError::Provider)?;
        }
        if let Some(name) = provider {
            return match self.provider(name) {
                Some(p) => Ok(vec![self.entry(p, model)]),
                None if self.config.has_provider(name) => Err(no_key(vec![name.to_owned()])),
                None => Err(ConfigurationError::new(
                    "provider",
                    format!("unknown provider `{name}`"),
                )
                .into()),
            };
        }
        if let Some(chain) = self.config.fallback_chains.get(model) {
            let plan: Vec<PlanEntry> = chain
                .iter()
                .filter_map(|step| {
                    let p = self.provider(&step.provider)?;
                    Some(self.entry(p, step.upstream.as_deref().unwrap_or(model)))
                })
                .filter(|e| !self.providers[e.provider].keys.is_empty())
                .collect();
            if plan.is_empty() {
                return Err(no_key(chain.iter().map(|s| s.provider.clone()).collect()));
            }
            return Ok(plan);
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if let Some(p) = self.provider(prefix) {
                return Ok(vec![self.entry(p, rest)]);
            }
        }
        let plan: Vec<PlanEntry> = self
            .providers_for_model(model)
            .into_iter()
            .map(|p| self.entry(p, model))
            .collect();
        if plan.is_empty() {
            return Err(no_key(Vec::new()));
        }
        Ok(plan)
    }
}
