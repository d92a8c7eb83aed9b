//! The call driver: every plan entry in order, every eligible key in turn, until an
//! attempt succeeds, the caller is at fault, or the budget and the keys run out.

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;

use super::Engine;
use crate::error::{Attempt, Disposition, LMRotateError, NoAvailableKeyError, ProviderError};
use crate::lease::Lease;
use crate::provider::{BoxFuture, Provider, ProviderCall};

/// Where a call goes: the model, an optional provider restriction, the retry budget.
pub(super) struct Route<'a> {
    pub(super) model: &'a str,
    pub(super) provider: Option<&'a str>,
    pub(super) max_retries: Option<u32>,
}

impl<'a> Route<'a> {
    pub(super) fn new(model: &'a str, provider: Option<&'a str>, max_retries: Option<u32>) -> Self {
        Self {
            model,
            provider,
            max_retries,
        }
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

impl Engine {
    /// Runs a call: every plan entry in order, every eligible key in turn, `attempt`
    /// doing the provider work for each chosen key.
    pub(super) async fn drive<T, F, Fut>(
        &self,
        model: &str,
        provider: Option<&str>,
        max_retries: Option<u32>,
        mut attempt: F,
    ) -> Result<T, LMRotateError>
    where
        F: FnMut(Lease) -> Fut,
        Fut: Future<Output = Attempted<T>>,
    {
        self.ensure_open()?;
        let topology = self.inner.topology.load_full();
        let plan = topology.plan(model, provider)?;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut tried: Vec<(usize, usize)> = Vec::new();
        let mut soonest: Option<u64> = None;
        let mut tried_here: Vec<usize> = Vec::new();
        for entry in plan.iter() {
            let slot = &topology.providers[entry.provider];
            let budget = 1 + max_retries.unwrap_or(slot.max_retries);
            let mut spent = 0;
            tried_here.clear();
            tried_here.extend(
                tried
                    .iter()
                    .filter(|(p, _)| *p == entry.provider)
                    .map(|(_, k)| *k),
            );
            loop {
                let now = self.inner.clock.unix_ms();
                let Some(pos) = slot
                    .index
                    .select(entry.pool, topology.strategy, now, &tried_here)
                else {
                    if let Some(at) = slot.index.soonest(&entry.upstream, now, &tried_here) {
                        soonest = Some(soonest.map_or(at, |s: u64| s.min(at)));
                    }
                    break;
                };
                tried_here.push(pos);
                tried.push((entry.provider, pos));
                let lease = Lease::new(
                    self.inner.clone(),
                    topology.clone(),
                    entry.provider,
                    pos,
                    entry.upstream.clone(),
                );
                let span = tracing::debug_span!(
                    "llm_rotate.attempt",
                    provider = %slot.name,
                    key_id = %lease.info().id(),
                    model = %entry.upstream,
                    attempt = attempts.len() + 1,
                );
                match attempt(lease).instrument(span).await {
                    Attempted::Done(result) => return Ok(result),
                    Attempted::Failed(mut lease, error) => {
                        let error = error.for_key(&slot.name, lease.info().id());
                        tracing::debug!(provider = %slot.name, key_id = %lease.info().id(), kind = %error.kind, "attempt failed");
                        lease.fail(&error);
                        let disposition = error.kind.disposition();
                        if disposition == Disposition::CallerFault {
                            return Err(LMRotateError::Provider(error));
                        }
                        attempts.push(Attempt {
                            provider: slot.name.to_string(),
                            key_id: lease.info().id().to_owned(),
                            model: entry.upstream.to_string(),
                            error,
                        });
                        if disposition == Disposition::CountFailure {
                            spent += 1;
                            if spent >= budget {
                                break;
                            }
                        }
                    }
                }
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
}
