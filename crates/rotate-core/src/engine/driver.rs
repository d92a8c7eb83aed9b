//! The call driver: every plan entry in order, every eligible key in turn, until an
//! attempt succeeds, the caller is at fault, or the budget and the keys run out; then
//! the panic threshold (keys resting for transient faults, least bad first) with what
//! budget is left.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::Engine;
use crate::error::{
    Attempt, Disposition, ErrorKind, LMRotateError, NoAvailableKeyError, ProviderError,
};
use crate::lease::Lease;
use crate::outlier::Outliers;
use crate::passthrough::Passthrough;
use crate::provider::{BoxFuture, ChatRequest, Provider, ProviderCall};
use crate::telemetry;
use crate::topology::{PlanEntry, Topology};

/// Where a call goes: the model, an optional provider restriction, the retry budget,
/// and the chat request each plan entry's adapter is asked whether it can carry.
pub(super) struct Route<'a> {
    pub(super) model: &'a str,
    pub(super) provider: Option<&'a str>,
    pub(super) max_retries: Option<u32>,
    pub(super) carried: Option<&'a ChatRequest>,
    /// Only plan entries whose adapter speaks an embeddings API.
    pub(super) embedding: bool,
    /// The client's own body: entries of other dialects are skipped when it holds
    /// fields no translation carries.
    pub(super) passthrough: Option<&'a Passthrough>,
    /// The hash of the call's affinity key: the key that served it last is tried first.
    pub(super) affinity: Option<u64>,
    /// How long the call may wait for a key to come back (else `defaults.max_wait_seconds`).
    pub(super) max_wait: Option<Duration>,
    /// The client the call is made for: its usage is counted under its name.
    pub(super) client: Option<&'a str>,
}

impl<'a> Route<'a> {
    pub(super) fn new(model: &'a str, provider: Option<&'a str>, max_retries: Option<u32>) -> Self {
        Self {
            model,
            provider,
            max_retries,
            carried: None,
            embedding: false,
            passthrough: None,
            affinity: None,
            max_wait: None,
            client: None,
        }
    }

    /// Counts the call's usage for `client` too.
    pub(super) fn for_client(mut self, client: Option<&'a str>) -> Self {
        self.client = client;
        self
    }

    /// Lets the call wait up to `max_wait` for a key to come back.
    pub(super) fn waiting(mut self, max_wait: Option<Duration>) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Prefers the key that served `affinity` last.
    pub(super) fn affine(mut self, affinity: Option<&str>) -> Self {
        self.affinity = affinity.map(crate::affinity::affinity_hash);
        self
    }

    /// Skips plan entries that cannot take what only `passthrough`'s dialect carries.
    pub(super) fn passing(mut self, passthrough: Option<&'a Passthrough>) -> Self {
        self.passthrough = passthrough;
        self
    }

    /// Skips plan entries whose adapter has no embeddings API.
    pub(super) fn embedding(mut self) -> Self {
        self.embedding = true;
        self
    }

    /// Skips plan entries whose adapter cannot carry `request`.
    pub(super) fn carrying(mut self, request: &'a ChatRequest) -> Self {
        self.carried = Some(request);
        self.passing(request.passthrough.as_ref())
    }
}

/// The adapter's part of one attempt (a chat or generate call, streamed or not).
pub(super) type SendFn<R, T> =
    fn(&dyn Provider, ProviderCall<R>) -> BoxFuture<'static, Result<T, ProviderError>>;

/// The outcome of one attempt, as the attempt closure reports it to the driver.
pub(super) enum Attempted<T> {
    /// The attempt produced the call's result.
    Done(T),
    /// The attempt failed; the lease goes back to be reported.
    Failed(Lease, ProviderError),
}

/// What one attempt left the driver to do.
enum Step<T> {
    /// The call is done.
    Done(T),
    /// The caller is at fault: stop with this error.
    Stop(LMRotateError),
    /// The attempt failed; `counted` when it spent the retry budget.
    Failed { counted: bool },
}

impl Engine {
    /// Runs a call: every plan entry in order, every eligible key in turn, `attempt`
    /// doing the provider work for each chosen key. A provider failing as a whole hands
    /// over to the next entry after one failure. When the eligible keys ran out before
    /// an entry's budget did, the panic threshold spends the rest on keys resting for
    /// transient faults, least bad first.
    ///
    /// When nothing is eligible but a key will be within the call's wait (its
    /// `max_wait`, else `defaults.max_wait_seconds`), the call waits for it in arrival
    /// order (see [`crate::waiting`]) and runs again; past the wait, or with
    /// `defaults.max_waiters` calls already waiting, it fails at once.
    pub(super) async fn drive<T, F, Fut>(
        &self,
        route: &Route<'_>,
        mut attempt: F,
    ) -> Result<T, LMRotateError>
    where
        F: FnMut(Lease) -> Fut,
        Fut: Future<Output = Attempted<T>>,
    {
        let (max_wait, max_waiters) = {
            let topology = self.inner.topology.load();
            let defaults = &topology.config.defaults;
            let configured = Duration::from_secs(defaults.max_wait_seconds);
            (route.max_wait.unwrap_or(configured), defaults.max_waiters)
        };
        if max_wait.is_zero() {
            return self.drive_once(route, &mut attempt, &mut None).await;
        }
        let clock = &self.inner.clock;
        let as_ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let deadline = clock.unix_ms().saturating_add(as_ms(max_wait));
        let mut waiter = None;
        let mut turn = None;
        loop {
            let result = self.drive_once(route, &mut attempt, &mut turn).await;
            let Err(LMRotateError::NoAvailableKey(error)) = &result else {
                return result;
            };
            let now = clock.unix_ms();
            let Some(until) = error.retry_in.map(|d| now.saturating_add(as_ms(d))) else {
                return result;
            };
            if now >= deadline || until > deadline {
                return result;
            }
            if waiter.is_none() {
                waiter = self.inner.waiting.enter(max_waiters);
                if waiter.is_none() {
                    tracing::debug!(
                        max_waiters,
                        "too many calls wait for a key; failing at once"
                    );
                    return result;
                }
            }
            if turn.is_none() {
                tokio::select! {
                    guard = self.inner.waiting.turn() => turn = Some(guard),
                    () = clock.sleep_until(deadline) => {}
                }
                // look again: a key may have come back while this call queued
                continue;
            }
            let woken = self.inner.waiting.woken();
            tokio::select! {
                () = clock.sleep_until(until) => {}
                () = woken => {}
            }
        }
    }

    /// One run of a call's plan (see [`drive`](Self::drive)); `turn`, the head of the
    /// waiting queue when the call holds it, is handed on once a key is chosen.
    async fn drive_once<T, F, Fut>(
        &self,
        route: &Route<'_>,
        attempt: &mut F,
        turn: &mut Option<tokio::sync::MutexGuard<'_, ()>>,
    ) -> Result<T, LMRotateError>
    where
        F: FnMut(Lease) -> Fut,
        Fut: Future<Output = Attempted<T>>,
    {
        self.ensure_open()?;
        let (model, max_retries) = (route.model, route.max_retries);
        let topology = self.inner.topology.load_full();
        let plan = topology.plan(model, route.provider)?;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut tried: Vec<(usize, usize)> = Vec::new();
        let mut soonest: Option<u64> = None;
        let mut tried_here: Vec<usize> = Vec::new();
        // the budget each entry had left when its eligible keys ran out
        let mut left: Vec<u32> = Vec::new();
        let mut refused = 0;
        // the key that served the affinity last, as (provider, position), until it is tried
        let mut pinned = route
            .affinity
            .and_then(|hash| self.inner.affinity.get(hash))
            .and_then(|id| topology.key_by_id.get(&*id).copied());
        let mut affinity_counted = route.affinity.is_none();
        for (i, entry) in plan.iter().enumerate() {
            let slot = &topology.providers[entry.provider];
            let budget = max_retries.unwrap_or(slot.max_retries).saturating_add(1);
            let refusal = if route.embedding && !slot.adapter.speaks_embeddings() {
                Some(format!("provider `{}` has no embeddings API", slot.name))
            } else {
                route
                    .passthrough
                    .and_then(|p| {
                        p.reason_unless(slot.adapter.accepts(p.dialect()), slot.adapter.dialect())
                    })
                    .or_else(|| route.carried.and_then(|r| slot.adapter.cannot_carry(r)))
            };
            if let Some(reason) = refusal {
                tracing::debug!(provider = %slot.name, %reason, "plan entry skipped: it cannot carry the request");
                attempts.push(Attempt {
                    provider: slot.name.to_string(),
                    key_id: String::new(),
                    model: entry.upstream.to_string(),
                    error: ProviderError::new(ErrorKind::Configuration, reason)
                        .for_key(&slot.name, ""),
                });
                refused += 1;
                left.push(0);
                continue;
            }
            let more_entries = i + 1 < plan.len();
            let mut spent = 0;
            tried_in(&tried, entry.provider, &mut tried_here);
            loop {
                let now = self.inner.clock.unix_ms();
                let pinned_pick = match pinned {
                    Some((p, k)) if p == entry.provider => {
                        pinned = None;
                        slot.index.select_pinned(entry.pool, k, now, &tried_here)
                    }
                    _ => None,
                };
                if !affinity_counted {
                    self.inner.affinity.count(pinned_pick.is_some());
                    affinity_counted = true;
                }
                let Some(pos) = pinned_pick.or_else(|| {
                    slot.index
                        .select(entry.pool, topology.strategy, now, &tried_here)
                }) else {
                    if let Some(at) = slot.index.soonest(&entry.upstream, now, &tried_here) {
                        soonest = Some(soonest.map_or(at, |s: u64| s.min(at)));
                    }
                    break;
                };
                turn.take();
                tried_here.push(pos);
                tried.push((entry.provider, pos));
                match self
                    .attempt_on(route, &topology, entry, pos, &mut attempts, attempt)
                    .await
                {
                    Step::Done(result) => {
                        self.remember_affinity_of(route, &topology, entry.provider, pos);
                        return Ok(result);
                    }
                    Step::Stop(error) => return Err(error),
                    Step::Failed { counted: false } => {}
                    Step::Failed { counted: true } => {
                        spent += 1;
                        if spent >= budget {
                            break;
                        }
                        if more_entries
                            && Outliers::failing_as_a_whole(&slot.keys, self.inner.clock.unix_ms())
                        {
                            tracing::debug!(provider = %slot.name, "provider failing on every key; moving to the next plan entry");
                            break;
                        }
                    }
                }
            }
            left.push(budget - spent.min(budget));
        }
        for (entry, mut left) in plan.iter().zip(left) {
            let slot = &topology.providers[entry.provider];
            while left > 0 {
                tried_in(&tried, entry.provider, &mut tried_here);
                let now = self.inner.clock.unix_ms();
                let Some(pos) = slot.index.least_bad_resting(entry.pool, now, &tried_here) else {
                    break;
                };
                turn.take();
                tried.push((entry.provider, pos));
                tracing::info!(provider = %slot.name, key_id = %slot.keys[pos].info.id(), "no eligible key left: calling a key resting for transient faults");
                match self
                    .attempt_on(route, &topology, entry, pos, &mut attempts, attempt)
                    .await
                {
                    Step::Done(result) => {
                        self.remember_affinity_of(route, &topology, entry.provider, pos);
                        return Ok(result);
                    }
                    Step::Stop(error) => return Err(error),
                    Step::Failed { counted } => left -= u32::from(counted),
                }
            }
        }
        if refused == plan.len() && refused == 1 {
            if let Some(only) = attempts.pop() {
                return Err(LMRotateError::Provider(only.error));
            }
        }
        if attempts.is_empty() {
            let now = self.inner.clock.unix_ms();
            let mut providers: Vec<String> = Vec::new();
            for entry in plan.iter() {
                let name = topology.providers[entry.provider].name.to_string();
                if !providers.contains(&name) {
                    providers.push(name);
                }
            }
            return Err(LMRotateError::NoAvailableKey(NoAvailableKeyError {
                model: model.to_owned(),
                providers,
                retry_in: soonest.map(|at| Duration::from_millis(at.saturating_sub(now))),
            }));
        }
        Err(LMRotateError::Exhausted { attempts })
    }

    /// Records that key `pos` of provider `p` served the route's affinity.
    fn remember_affinity_of(&self, route: &Route<'_>, topology: &Topology, p: usize, pos: usize) {
        if let Some(hash) = route.affinity {
            let id = topology.providers[p].keys[pos].info.id_arc();
            self.inner.remember_affinity(hash, id);
        }
    }

    /// One attempt with key `pos` of `entry`'s provider: runs it, reports its outcome,
    /// and records a failure in `attempts`.
    async fn attempt_on<T, F, Fut>(
        &self,
        route: &Route<'_>,
        topology: &Arc<Topology>,
        entry: &PlanEntry,
        pos: usize,
        attempts: &mut Vec<Attempt>,
        attempt: &mut F,
    ) -> Step<T>
    where
        F: FnMut(Lease) -> Fut,
        Fut: Future<Output = Attempted<T>>,
    {
        let slot = &topology.providers[entry.provider];
        let lease = Lease::new(
            self.inner.clone(),
            topology.clone(),
            entry.provider,
            pos,
            entry.upstream.clone(),
        )
        .for_client(route.client);
        let n = attempts.len() + 1;
        let span = telemetry::attempt_span(&slot.name, lease.info().id(), &entry.upstream, n);
        match attempt(lease).instrument(span.clone()).await {
            Attempted::Done(result) => {
                span.record("llm_rotate.outcome", "ok");
                Step::Done(result)
            }
            Attempted::Failed(mut lease, error) => {
                span.record("llm_rotate.outcome", error.kind.as_str());
                let error = error.for_key(&slot.name, lease.info().id());
                tracing::debug!(provider = %slot.name, key_id = %lease.info().id(), kind = %error.kind, "attempt failed");
                lease.fail(&error);
                let disposition = error.kind.disposition();
                if disposition == Disposition::CallerFault {
                    return Step::Stop(LMRotateError::Provider(error));
                }
                attempts.push(Attempt {
                    provider: slot.name.to_string(),
                    key_id: lease.info().id().to_owned(),
                    model: entry.upstream.to_string(),
                    error,
                });
                Step::Failed {
                    counted: disposition == Disposition::CountFailure,
                }
            }
        }
    }
}

/// The positions of `provider`'s keys in `tried`, into `out`.
fn tried_in(tried: &[(usize, usize)], provider: usize, out: &mut Vec<usize>) {
    out.clear();
    out.extend(
        tried
            .iter()
            .filter(|(p, _)| *p == provider)
            .map(|(_, k)| *k),
    );
}

#[cfg(test)]
mod tests;
