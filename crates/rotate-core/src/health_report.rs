//! Assembling the reports of [`crate::report`]: every key's state from the store (or
//! this process's view when the store cannot answer), its counters, failures by kind,
//! latency and in-flight calls, and each provider's available keys.

use std::sync::Arc;

use crate::clock::rfc3339;
use crate::report::{HealthReport, KeyHealth, KeyState, ProviderHealth, StoreHealth, UsageSummary};
use crate::shared::EngineInner;

impl EngineInner {
    /// A snapshot of every key's and provider's health (the shared view with a shared store).
    pub(crate) async fn health_report(&self) -> HealthReport {
        let topology = self.topology.load_full();
        let now = self.clock.unix_ms();
        let ids: Vec<Arc<str>> = topology
            .key_order
            .iter()
            .map(|&(p, k)| topology.providers[p].keys[k].info.id_arc().clone())
            .collect();
        let (states, usage) =
            futures_util::future::join(self.store.states(ids), self.store.usage()).await;
        let mut local_only = false;
        let (states, mut connected) = match states {
            Ok(states) => (states, self.store.connected()),
            Err(error) => {
                local_only = true;
                // the store logs the outage once; a report during it says `connected: false`
                tracing::debug!(%error, "state store unreachable; reporting this process's view");
                let local = topology
                    .key_order
                    .iter()
                    .map(|&(p, k)| topology.providers[p].keys[k].runtime.health())
                    .collect();
                (local, false)
            }
        };
        let usage = match usage {
            Ok(usage) => usage,
            Err(_) => {
                connected = false;
                UsageSummary::default()
            }
        };
        local_only |= usage.local_only;
        let mut providers: Vec<ProviderHealth> = topology
            .providers
            .iter()
            .map(|slot| ProviderHealth {
                name: slot.name.to_string(),
                total_keys: slot.keys.len(),
                available_keys: 0,
            })
            .collect();
        let mut keys = Vec::with_capacity(states.len());
        for (&(p, k), state) in topology.key_order.iter().zip(states) {
            let entry = &topology.providers[p].keys[k];
            let enabled = entry.runtime.is_enabled();
            let reported = if enabled {
                state.effective_state(now)
            } else {
                KeyState::Disabled
            };
            if enabled && state.is_eligible(now) && !entry.runtime.budget_blocked(now) {
                providers[p].available_keys += 1;
            }
            let counters = usage
                .by_key
                .get(entry.info.id())
                .copied()
                .unwrap_or_default();
            keys.push(KeyHealth {
                key_id: entry.info.id().to_owned(),
                provider: topology.providers[p].name.to_string(),
                state: reported,
                available_in_ms: state.is_resting(now).then(|| state.until_ms - now),
                consecutive_failures: state.consecutive_failures,
                requests: counters.requests,
                failures: counters.failures,
                last_error: entry.runtime.last_error(),
                failures_by_kind: entry.runtime.failures_by_kind(),
                latency_ms_ewma: entry.runtime.latency_us().map(|us| us as f64 / 1000.0),
                in_flight: entry.runtime.in_flight(),
                probing: entry.runtime.probing(),
                disabled_reason: match reported {
                    KeyState::Disabled if !enabled => Some("config".to_owned()),
                    KeyState::Disabled if state.is_dead() => Some("auth".to_owned()),
                    KeyState::Disabled => Some("operator".to_owned()),
                    _ => None,
                },
                quota_group: entry
                    .quota_group
                    .map(|g| topology.quota_groups[g].name.to_string()),
                headroom: Some(f64::from(entry.runtime.headroom_permille()) / 1000.0),
            });
        }
        HealthReport {
            generated_at: rfc3339(now),
            strategy: topology.strategy,
            store: StoreHealth {
                local_only,
                backend: self.store.backend().to_owned(),
                connected,
            },
            providers,
            keys,
        }
    }

    /// Usage counters (the shared ones with a shared store); this process's own when
    /// the store cannot answer.
    pub(crate) async fn usage_report(&self) -> UsageSummary {
        match self.store.usage().await {
            Ok(summary) => summary,
            Err(error) => {
                tracing::debug!(%error, "state store unreachable; usage summary unavailable");
                UsageSummary::default()
            }
        }
    }
}
