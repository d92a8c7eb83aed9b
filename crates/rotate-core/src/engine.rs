//! The call engine: plan -> select -> attempt -> classify -> report.
//!
//! [`Engine`] knows no wire protocol. For each step of a call's plan it picks a key with
//! the configured strategy, hands the attempt to the provider's adapter, and feeds the
//! classified outcome back into the health machine (through the [`StateStore`]) and the
//! usage counters. Key-specific failures (rate limit, quota, auth) rotate to the next
//! key without spending the retry budget; transient failures spend it; caller's-fault
//! errors stop at once. When nothing was eligible the error is `NoAvailableKey` with the
//! soonest `retry_in`; when every attempt failed it is `Exhausted` with all of them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use parking_lot::Mutex;
use tracing::Instrument;

use crate::acquire::AcquireContext;
use crate::clock::{rfc3339, Clock, SystemClock};
use crate::config::LMRotateConfig;
use crate::content::Content;
use crate::error::{
    Attempt, ConfigurationError, Disposition, LMRotateError, NoAvailableKeyError, ProviderError,
};
use crate::generate::GenerateContentRequest;
use crate::health::HealthEvent;
use crate::lease::Lease;
use crate::message::ChatMessage;
use crate::options::{ChatOptions, GenerateOptions};
use crate::provider::{
    AdapterFactory, BoxFuture, ChatRequest, Provider, ProviderCall, ProviderReply,
    ProviderStreamStart,
};
use crate::report::{HealthReport, KeyHealth, KeyState, ProviderHealth, StoreHealth, UsageSummary};
use crate::response::{ChatResponse, StreamChunk};
use crate::store::{StateListener, StateStore};
use crate::stream::{ChatStream, LeasedStream};
use crate::topology::{Adapters, Topology};

/// Where a call goes: the model, an optional provider restriction, the retry budget.
struct Route<'a> {
    model: &'a str,
    provider: Option<&'a str>,
    max_retries: Option<u32>,
}

impl<'a> Route<'a> {
    fn new(model: &'a str, provider: Option<&'a str>, max_retries: Option<u32>) -> Self {
        Self {
            model,
            provider,
            max_retries,
        }
    }
}

/// The adapter's part of one attempt (a chat or generate call, streamed or not).
type SendFn<R, T> =
    fn(&dyn Provider, ProviderCall<R>) -> BoxFuture<'static, Result<T, ProviderError>>;

/// The outcome of one attempt, as the attempt closure reports it to the driver.
pub(crate) enum Attempted<T> {
    /// The attempt produced the call's result.
    Done(T),
    /// The attempt failed; the lease goes back to be reported.
    Failed(Lease, ProviderError),
}

pub(crate) struct EngineInner {
    topology: ArcSwap<Topology>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) clock: Arc<dyn Clock>,
    custom: HashMap<String, Arc<dyn Provider>>,
    factory: Option<Arc<dyn AdapterFactory>>,
    closed: AtomicBool,
    reload: Mutex<()>,
}

impl EngineInner {
    /// Re-reads a key's runtime into the current topology's index.
    pub(crate) fn refresh_key(&self, key_id: &str, now_ms: u64) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].index.refresh(k, now_ms);
        }
    }
}

impl StateListener for EngineInner {
    fn on_state(&self, key_id: &str, state: crate::health::HealthState) {
        let topology = self.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            topology.providers[p].keys[k].runtime.install(state);
            topology.providers[p].index.refresh(k, self.clock.unix_ms());
        }
    }
}

/// The engine behind `LMRotate`. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.backend())
            .field("keys", &self.inner.topology.load().key_order.len())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    config: LMRotateConfig,
    store: Option<Arc<dyn StateStore>>,
    clock: Arc<dyn Clock>,
    custom: HashMap<String, Arc<dyn Provider>>,
    factory: Option<Arc<dyn AdapterFactory>>,
}

impl EngineBuilder {
    /// Starts from `config`.
    pub fn new(config: LMRotateConfig) -> Self {
        Self {
            config,
            store: None,
            clock: Arc::new(SystemClock),
            custom: HashMap::new(),
            factory: None,
        }
    }

    /// The state store (required).
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where adapters for configured providers come from.
    pub fn adapter_factory(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Registers a custom adapter under `name` (it wins over any configured provider of that name).
    pub fn provider(mut self, name: impl Into<String>, adapter: Arc<dyn Provider>) -> Self {
        self.custom.insert(name.into(), adapter);
        self
    }

    /// Validates the config and builds the engine.
    pub fn build(self) -> Result<Engine, ConfigurationError> {
        let store = self.store.ok_or_else(|| {
            ConfigurationError::new("state_store", "no state store was given to the engine")
        })?;
        let custom_names: Vec<&str> = self.custom.keys().map(String::as_str).collect();
        self.config.validate_with(&custom_names)?;
        let adapters = Adapters {
            custom: &self.custom,
            factory: self.factory.as_deref(),
            previous: None,
        };
        let topology = Topology::build(
            Arc::new(self.config),
            &adapters,
            store.as_ref(),
            self.clock.unix_ms(),
        )?;
        let inner = Arc::new(EngineInner {
            topology: ArcSwap::from_pointee(topology),
            store,
            clock: self.clock,
            custom: self.custom,
            factory: self.factory,
            closed: AtomicBool::new(false),
            reload: Mutex::new(()),
        });
        let listener: std::sync::Weak<dyn StateListener> =
            Arc::downgrade(&inner) as std::sync::Weak<EngineInner>;
        inner.store.set_listener(listener);
        Ok(Engine { inner })
    }
}

impl Engine {
    /// A builder starting from `config`.
    pub fn builder(config: LMRotateConfig) -> EngineBuilder {
        EngineBuilder::new(config)
    }

    /// The config in force.
    pub fn config(&self) -> Arc<LMRotateConfig> {
        self.inner.topology.load().config.clone()
    }

    /// The clock in use.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The state store in use.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.inner.store
    }

    fn ensure_open(&self) -> Result<(), LMRotateError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(LMRotateError::Closed);
        }
        Ok(())
    }

    /// Runs a call: every plan entry in order, every eligible key in turn, `attempt`
    /// doing the provider work for each chosen key.
    pub(crate) async fn drive<T, F, Fut>(
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

    /// One chat call, with rotation, retries and fallback.
    pub async fn chat(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: &ChatOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        let request = Arc::new(chat_request(messages, opts));
        let span = tracing::debug_span!("llm_rotate.chat", model = %model);
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries);
        self.complete(route, request, |adapter, call| adapter.chat(call))
            .instrument(span)
            .await
    }

    /// A streamed chat call. Fails over like [`chat`](Self::chat) until the first chunk with
    /// content; after that an upstream error ends the stream with one `Err` item.
    pub async fn chat_stream(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: &ChatOptions,
    ) -> Result<ChatStream, LMRotateError> {
        let request = Arc::new(chat_request(messages, opts));
        let span = tracing::debug_span!("llm_rotate.chat_stream", model = %model);
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries);
        self.open_stream(route, request, |adapter, call| adapter.chat_stream(call))
            .instrument(span)
            .await
    }

    /// One Gemini `generateContent` call (Google providers only), with rotation, retries
    /// and fallback. Any other provider in the plan is an error before any network call.
    pub async fn generate_content(
        &self,
        model: &str,
        contents: Vec<Content>,
        opts: &GenerateOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries);
        self.check_generate_content(&route)?;
        let request = Arc::new(GenerateContentRequest::new(contents, opts));
        let span = tracing::debug_span!("llm_rotate.generate_content", model = %model);
        self.complete(route, request, |adapter, call| adapter.generate(call))
            .instrument(span)
            .await
    }

    /// A streamed `generateContent` call, failing over like
    /// [`chat_stream`](Self::chat_stream).
    pub async fn generate_content_stream(
        &self,
        model: &str,
        contents: Vec<Content>,
        opts: &GenerateOptions,
    ) -> Result<ChatStream, LMRotateError> {
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries);
        self.check_generate_content(&route)?;
        let request = Arc::new(GenerateContentRequest::new(contents, opts));
        let span = tracing::debug_span!("llm_rotate.generate_content_stream", model = %model);
        self.open_stream(route, request, |adapter, call| {
            adapter.generate_stream(call)
        })
        .instrument(span)
        .await
    }

    /// Refuses a `generate_content` whose plan reaches a provider that does not speak it.
    fn check_generate_content(&self, route: &Route<'_>) -> Result<(), LMRotateError> {
        self.ensure_open()?;
        let topology = self.inner.topology.load();
        let plan = topology.plan(route.model, route.provider)?;
        for entry in plan.iter() {
            let slot = &topology.providers[entry.provider];
            if !slot.adapter.speaks_generate_content() {
                return Err(LMRotateError::Configuration(ConfigurationError::new(
                    "provider",
                    format!(
                        "generate_content works with Google providers (google, vertex) only; model `{}` resolves to provider `{}`",
                        route.model, slot.name
                    ),
                )));
            }
        }
        Ok(())
    }

    /// A non-streamed call of any request kind: `send` does the adapter's part.
    async fn complete<R: Send + Sync + 'static>(
        &self,
        route: Route<'_>,
        request: Arc<R>,
        send: SendFn<R, ProviderReply>,
    ) -> Result<ChatResponse, LMRotateError> {
        let started = self.inner.clock.monotonic();
        let clock = self.inner.clock.clone();
        self.drive(
            route.model,
            route.provider,
            route.max_retries,
            |mut lease| {
                let call = lease.call(request.clone());
                let adapter = lease.adapter();
                let clock = clock.clone();
                async move {
                    match send(adapter.as_ref(), call).await {
                        Ok(reply) => {
                            lease.succeed(
                                reply.usage,
                                reply.headroom,
                                reply.upstream_provider.as_deref(),
                            );
                            let latency = clock.monotonic().saturating_sub(started);
                            Attempted::Done(ChatResponse {
                                content: reply.content,
                                provider: lease.provider_name().to_string(),
                                model: if reply.model.is_empty() {
                                    lease.model().to_string()
                                } else {
                                    reply.model
                                },
                                key_id: lease.info().id().to_owned(),
                                usage: reply.usage,
                                latency_ms: latency.as_secs_f64() * 1000.0,
                                finish_reason: reply.finish_reason,
                                raw: reply.raw,
                            })
                        }
                        Err(error) => Attempted::Failed(lease, error),
                    }
                }
            },
        )
        .await
    }

    /// A streamed call of any request kind: `open` opens the adapter's stream.
    async fn open_stream<R: Send + Sync + 'static>(
        &self,
        route: Route<'_>,
        request: Arc<R>,
        open: SendFn<R, ProviderStreamStart>,
    ) -> Result<ChatStream, LMRotateError> {
        self.drive(route.model, route.provider, route.max_retries, |lease| {
            let call = lease.call(request.clone());
            let adapter = lease.adapter();
            async move {
                let start = match open(adapter.as_ref(), call).await {
                    Ok(start) => start,
                    Err(error) => return Attempted::Failed(lease, error),
                };
                let mut events = start.events;
                loop {
                    match events.next().await {
                        Some(Ok(delta)) if delta.has_content() => {
                            let first = StreamChunk {
                                delta: delta.delta,
                                finish_reason: delta.finish_reason,
                                usage: delta.usage,
                                provider: lease.provider_name().to_string(),
                                model: lease.model().to_string(),
                            };
                            return Attempted::Done(ChatStream::new(LeasedStream::new(
                                lease,
                                Some(first),
                                events,
                                start.headroom,
                            )));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => return Attempted::Failed(lease, error),
                        None => {
                            return Attempted::Done(ChatStream::new(LeasedStream::ended(
                                lease,
                                start.headroom,
                            )));
                        }
                    }
                }
            }
        })
        .await
    }

    /// Borrows a key of `provider` (able to serve `model` when given), selected exactly as
    /// a call would select it.
    pub async fn acquire(
        &self,
        provider: &str,
        model: Option<&str>,
    ) -> Result<AcquireContext, LMRotateError> {
        self.ensure_open()?;
        let topology = self.inner.topology.load_full();
        let no_key = |retry_in: Option<Duration>| {
            LMRotateError::NoAvailableKey(NoAvailableKeyError {
                model: model.unwrap_or("").to_owned(),
                providers: vec![provider.to_owned()],
                retry_in,
            })
        };
        let Some(p) = topology.provider(provider) else {
            if topology.config.has_provider(provider) || self.inner.custom.contains_key(provider) {
                return Err(no_key(None));
            }
            return Err(ConfigurationError::new(
                "provider",
                format!("unknown provider `{provider}`"),
            )
            .into());
        };
        if let Some(model) = model {
            crate::model_id::check(model).map_err(LMRotateError::Provider)?;
        }
        let slot = &topology.providers[p];
        let upstream = model.map_or("", |m| slot.config.upstream_model(m));
        let pool = if upstream.is_empty() {
            0
        } else {
            slot.index.pool_for(upstream)
        };
        let now = self.inner.clock.unix_ms();
        let Some(pos) = slot.index.select(pool, topology.strategy, now, &[]) else {
            let retry_in = slot
                .index
                .soonest(upstream, now, &[])
                .map(|at| Duration::from_millis(at.saturating_sub(now)));
            return Err(no_key(retry_in));
        };
        let model = if upstream.is_empty() {
            topology.no_model.clone()
        } else {
            Arc::from(upstream)
        };
        let lease = Lease::new(self.inner.clone(), topology.clone(), p, pos, model);
        Ok(AcquireContext::new(lease))
    }

    /// Turns a key off (or back on) by operator decision; shared through the store.
    pub fn set_key_enabled(&self, key_id: &str, enabled: bool) -> Result<(), LMRotateError> {
        let topology = self.inner.topology.load();
        let &(p, k) = topology.key_by_id.get(key_id).ok_or_else(|| {
            ConfigurationError::new("key_id", format!("no key `{key_id}` is configured"))
        })?;
        let slot = &topology.providers[p];
        let now = self.inner.clock.unix_ms();
        let event = if enabled {
            HealthEvent::Enable
        } else {
            HealthEvent::Disable
        };
        let state = self.inner.store.apply(key_id, event, now, &slot.policy);
        slot.keys[k].runtime.install(state);
        slot.index.refresh(k, now);
        Ok(())
    }

    /// A snapshot of every key's and provider's health (the shared view with a shared store).
    pub async fn health(&self) -> HealthReport {
        let topology = self.inner.topology.load_full();
        let now = self.inner.clock.unix_ms();
        let ids: Vec<Arc<str>> = topology
            .key_order
            .iter()
            .map(|&(p, k)| topology.providers[p].keys[k].info.id_arc().clone())
            .collect();
        let (states, mut connected) = match self.inner.store.states(ids).await {
            Ok(states) => (states, self.inner.store.connected()),
            Err(error) => {
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
        let usage = match self.inner.store.usage().await {
            Ok(usage) => usage,
            Err(_) => {
                connected = false;
                UsageSummary::default()
            }
        };
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
            });
        }
        HealthReport {
            generated_at: rfc3339(now),
            strategy: topology.strategy,
            store: StoreHealth {
                backend: self.inner.store.backend().to_owned(),
                connected,
            },
            providers,
            keys,
        }
    }

    /// Usage counters (the shared ones with a shared store).
    pub async fn usage_summary(&self) -> UsageSummary {
        match self.inner.store.usage().await {
            Ok(summary) => summary,
            Err(error) => {
                tracing::debug!(%error, "state store unreachable; usage summary unavailable");
                UsageSummary::default()
            }
        }
    }

    /// Validates `config`, then swaps it in atomically. Keys whose id survives keep their
    /// health and usage; removed keys stop being selected at once; new keys start healthy.
    pub fn reload(&self, config: LMRotateConfig) -> Result<(), ConfigurationError> {
        let custom_names: Vec<&str> = self.inner.custom.keys().map(String::as_str).collect();
        config.validate_with(&custom_names)?;
        let _guard = self.inner.reload.lock();
        let previous = self.inner.topology.load_full();
        let adapters = Adapters {
            custom: &self.inner.custom,
            factory: self.inner.factory.as_deref(),
            previous: Some(&previous),
        };
        let topology = Topology::build(
            Arc::new(config),
            &adapters,
            self.inner.store.as_ref(),
            self.inner.clock.unix_ms(),
        )?;
        self.inner.topology.store(Arc::new(topology));
        tracing::info!("configuration reloaded");
        Ok(())
    }

    /// Refuses new calls and flushes the store.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Err(error) = self.inner.store.flush().await {
            tracing::warn!(%error, "state store flush on close failed");
        }
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

fn chat_request(messages: &[ChatMessage], opts: &ChatOptions) -> ChatRequest {
    ChatRequest {
        messages: messages.to_vec(),
        max_tokens: opts.max_tokens,
        temperature: opts.temperature,
        extra: opts.extra.clone(),
    }
}
