//! A key borrowed for one attempt: in-flight tracking and outcome reporting.
//!
//! Selecting a key creates a [`Lease`]; reporting its outcome applies the health event
//! through the store, updates latency and headroom, and counts usage. Dropping a lease
//! without an outcome only frees its in-flight slot (and gives back a claimed probe).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Disposition, ErrorKind, ProviderError};
use crate::health::{HealthEvent, HealthPolicy, HealthState};
use crate::provider::{Headroom, KeyInfo, Provider, ProviderCall};
use crate::response::Usage;
use crate::shared::EngineInner;
use crate::store::{RateWindow, UsageRecord};
use crate::topology::{KeyEntry, ProviderSlot, Topology};

/// One key, borrowed for one attempt.
pub(crate) struct Lease {
    engine: Arc<EngineInner>,
    topology: Arc<Topology>,
    provider: usize,
    pos: usize,
    model: Arc<str>,
    started: Duration,
    reported: bool,
    /// The client whose usage this is.
    client: Option<Arc<str>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("provider", &self.slot().name)
            .field("key_id", &self.key().info.id())
            .field("model", &self.model)
            .finish()
    }
}

impl Lease {
    /// Borrows key `pos` of `provider`, counting it against its local budgets.
    pub(crate) fn new(
        engine: Arc<EngineInner>,
        topology: Arc<Topology>,
        provider: usize,
        pos: usize,
        model: Arc<str>,
    ) -> Self {
        let started = engine.clock.monotonic();
        let lease = Self {
            engine,
            topology,
            provider,
            pos,
            model,
            started,
            reported: false,
            client: None,
        };
        lease.key().runtime.begin();
        lease.count_requests();
        lease
    }

    /// Counts the lease's usage for `client` too.
    pub(crate) fn for_client(mut self, client: Option<&str>) -> Self {
        self.client = client.map(Arc::from);
        self
    }

    pub(crate) fn clock(&self) -> &Arc<dyn crate::clock::Clock> {
        &self.engine.clock
    }

    pub(crate) fn slot(&self) -> &ProviderSlot {
        &self.topology.providers[self.provider]
    }

    pub(crate) fn key(&self) -> &KeyEntry {
        &self.slot().keys[self.pos]
    }

    pub(crate) fn info(&self) -> &Arc<KeyInfo> {
        &self.key().info
    }

    pub(crate) fn provider_name(&self) -> &Arc<str> {
        &self.slot().name
    }

    pub(crate) fn model(&self) -> &Arc<str> {
        &self.model
    }

    /// The model the vendor said answered, or the one called when it said none.
    pub(crate) fn answering_model(&self, reported: String) -> String {
        if reported.is_empty() {
            self.model.to_string()
        } else {
            reported
        }
    }

    pub(crate) fn adapter(&self) -> Arc<dyn Provider> {
        self.slot().adapter.clone()
    }

    /// The adapter call for `request` with this key.
    pub(crate) fn call<R>(&self, request: Arc<R>) -> ProviderCall<R> {
        ProviderCall {
            provider: self.slot().name.clone(),
            model: self.model.clone(),
            key: self.key().info.clone(),
            request,
        }
    }

    fn count_requests(&self) {
        let key = self.key();
        if key.rpm.is_none() && key.rpd.is_none() {
            return;
        }
        let now = self.engine.clock.unix_ms();
        for (limit, window) in [(key.rpm, RateWindow::Minute), (key.rpd, RateWindow::Day)] {
            if let Some(limit) = limit {
                let used = self
                    .engine
                    .store
                    .count_window(key.info.id(), window, 1, now);
                if used >= limit {
                    key.runtime
                        .block_until(window.start_ms(now) + window.len_ms());
                    self.engine.refresh_key(key.info.id(), now);
                }
            }
        }
    }

    fn apply(&self, event: HealthEvent, now_ms: u64) {
        apply_to(
            &self.engine,
            &self.topology,
            (self.provider, self.pos),
            event,
            now_ms,
            None,
        );
        let Some(group) = self.key().quota_group else {
            return;
        };
        // the vendor's limit is the group's: the other members rest with this key
        let shared = match event {
            HealthEvent::RateLimited { retry_after_ms } => HealthEvent::HeadroomExhausted {
                reset_ms: retry_after_ms.unwrap_or(self.slot().policy.cooldown_ms),
            },
            HealthEvent::HeadroomExhausted { .. } | HealthEvent::QuotaExhausted => event,
            _ => return,
        };
        let group = &self.topology.quota_groups[group];
        for &(p, k) in &group.members {
            if (p, k) != (self.provider, self.pos) {
                apply_to(&self.engine, &self.topology, (p, k), shared, now_ms, None);
            }
        }
        tracing::info!(quota_group = %group.name, key_id = %self.key().info.id(), members = group.members.len(), "a shared limit rests the whole quota group");
    }

    fn record(
        &self,
        success: bool,
        usage: Usage,
        upstream_provider: Option<&str>,
        cost_nano_usd: u64,
    ) {
        self.engine.store.record(&UsageRecord {
            key_id: self.key().info.id(),
            provider: &self.slot().name,
            model: &self.model,
            upstream_provider,
            success,
            usage,
            cost_nano_usd,
            client: self.client.as_deref(),
            at_ms: self.engine.clock.unix_ms(),
        });
    }

    /// What `usage` costs on this lease's model (nano-dollars), when it has a price.
    pub(crate) fn price(&self, usage: &Usage) -> Option<u64> {
        self.topology.prices.cost_nano_usd(&self.model, usage)
    }

    /// Reports a success; gives what it cost (nano-dollars) when its model has a price.
    pub(crate) fn succeed(
        &mut self,
        usage: Usage,
        headroom: Option<Headroom>,
        upstream_provider: Option<&str>,
    ) -> Option<u64> {
        if std::mem::replace(&mut self.reported, true) {
            return None;
        }
        let key = self.key();
        self.slot().outliers.observe(&key.runtime, false);
        let elapsed = self.engine.clock.monotonic().saturating_sub(self.started);
        key.runtime
            .observe_latency(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        let now = self.engine.clock.unix_ms();
        if key.runtime.health() != HealthState::default() {
            self.apply(HealthEvent::Success, now);
        }
        if let Some(headroom) = headroom {
            key.runtime.set_headroom(headroom.fraction_left());
            if let (Some(left), Some(reset)) =
                (headroom.remaining_requests, headroom.reset_requests)
            {
                let reset_at =
                    now.saturating_add(u64::try_from(reset.as_millis()).unwrap_or(u64::MAX));
                let limit = headroom.limit_requests;
                if key
                    .runtime
                    .observe_requests_left(left, limit, reset_at, now)
                {
                    self.engine.refresh_key(key.info.id(), now);
                }
            }
            if let Some(reset) = headroom.exhausted_for() {
                let reset_ms = u64::try_from(reset.as_millis()).unwrap_or(u64::MAX);
                self.apply(HealthEvent::HeadroomExhausted { reset_ms }, now);
            }
        }
        if let Some(tpm) = key.tpm {
            let used = self.engine.store.count_window(
                key.info.id(),
                RateWindow::Minute,
                usage.total_tokens,
                now,
            );
            if used >= tpm {
                key.runtime
                    .block_until(RateWindow::Minute.start_ms(now) + RateWindow::Minute.len_ms());
                self.engine.refresh_key(key.info.id(), now);
            }
        }
        let cost = self.price(&usage);
        self.record(true, usage, upstream_provider, cost.unwrap_or(0));
        cost
    }

    /// Reports a failure (the error must already name provider and key).
    pub(crate) fn fail(&mut self, error: &ProviderError) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        let retry_after_ms = error
            .retry_after
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let now = self.engine.clock.unix_ms();
        let event = match error.kind.disposition() {
            Disposition::CoolDown => Some(HealthEvent::RateLimited { retry_after_ms }),
            Disposition::Quarantine if error.kind == ErrorKind::Auth => {
                Some(HealthEvent::AuthFailed)
            }
            // a quota that resets on a schedule: rest until it does
            Disposition::Quarantine => match retry_after_ms {
                Some(reset_ms) if reset_ms > 0 => Some(HealthEvent::HeadroomExhausted { reset_ms }),
                _ => Some(HealthEvent::QuotaExhausted),
            },
            Disposition::CountFailure => {
                let slot = self.slot();
                slot.outliers.observe(&self.key().runtime, true);
                Some(slot.outliers.judge(&slot.keys, self.pos, now, &slot.policy))
            }
            Disposition::CallerFault => None,
        };
        if event == Some(HealthEvent::ExcusedFailure) {
            tracing::debug!(provider = %self.slot().name, key_id = %self.key().info.id(), "transient failure not held against the key (its peers fail as much, or enough keys rest)");
        }
        let ramping = self.slot().index.ramp(self.pos, now) < 1.0;
        match event {
            Some(HealthEvent::TransientFailure) if ramping => {
                // a failure during slow start drops the key at once
                let policy = HealthPolicy {
                    max_consecutive_failures: 1,
                    ..self.slot().policy
                };
                let (engine, key) = (&self.engine, (self.provider, self.pos));
                let event = HealthEvent::TransientFailure;
                apply_to(engine, &self.topology, key, event, now, Some(&policy));
            }
            Some(event) => self.apply(event, now),
            None => {}
        }
        let status = error.status.map(|s| format!(" {s}")).unwrap_or_default();
        let runtime = &self.key().runtime;
        let message = match std::error::Error::source(error) {
            Some(cause) => format!("{}: {}", error.message, crate::error::with_causes(cause)),
            None => error.message.clone(),
        };
        runtime.set_last_error(format!("{}{status}: {message}", error.kind));
        runtime.count_failure(error.kind);
        self.record(false, Usage::default(), None, 0);
    }
}

/// Applies `event` to key `(provider, position)` through the store (under `policy`, else
/// its provider's), installs the result and logs a change of state.
fn apply_to(
    engine: &EngineInner,
    topology: &Topology,
    (p, k): (usize, usize),
    event: HealthEvent,
    now_ms: u64,
    policy: Option<&HealthPolicy>,
) {
    let slot = &topology.providers[p];
    let key = &slot.keys[k];
    let before = key.runtime.health();
    let policy = policy.unwrap_or(&slot.policy);
    let after = engine.store.apply(key.info.id(), event, now_ms, policy);
    key.runtime.install(after);
    engine.refresh_key(key.info.id(), now_ms);
    if after.is_dead() && !before.is_dead() {
        tracing::warn!(
            provider = %slot.name,
            key_id = %key.info.id(),
            refused_probes = after.auth_failures,
            "key disabled: its credentials were refused on every probe; enable it or reload the config to try it again"
        );
    } else if before.state != after.state {
        tracing::warn!(
            provider = %slot.name,
            key_id = %key.info.id(),
            from = %before.state,
            to = %after.state,
            until_ms = after.until_ms,
            "key state changed"
        );
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let runtime = &self.key().runtime;
        runtime.release_probe();
        runtime.end();
    }
}
