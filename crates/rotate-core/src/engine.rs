//! The call engine: plan -> select -> attempt -> classify -> report.
//!
//! [`Engine`] knows no wire protocol. For each step of a call's plan it picks a key with
//! the configured strategy, hands the attempt to the provider's adapter, and feeds the
//! classified outcome back into the health machine (through the [`StateStore`]) and the
//! usage counters. Key-specific failures (rate limit, quota, auth) rotate to the next
//! key without spending the retry budget; transient failures spend it; caller's-fault
//! errors stop at once. When nothing was eligible the error is `NoAvailableKey` with the
//! soonest `retry_in`; when every attempt failed it is `Exhausted` with all of them.

mod builder;
mod driver;
mod embed;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tracing::Instrument;

pub use self::builder::EngineBuilder;
use self::driver::{Attempted, Route, SendFn};
use crate::acquire::AcquireContext;
use crate::clock::Clock;
use crate::config::LMRotateConfig;
use crate::content::Content;
use crate::error::{ConfigurationError, LMRotateError, NoAvailableKeyError};
use crate::generate::GenerateContentRequest;
use crate::health::HealthEvent;
use crate::lease::Lease;
use crate::limit::{ClientLimits, LimitResult};
use crate::message::ChatMessage;
use crate::options::{ChatOptions, GenerateOptions};
use crate::provider::{ChatRequest, ProviderReply, ProviderStreamStart};
use crate::report::{HealthReport, UsageSummary};
use crate::response::{ChatResponse, StreamChunk};
use crate::shared::EngineInner;
use crate::store::StateStore;
use crate::stream::{ChatStream, LeasedStream};
use crate::telemetry;
use crate::topology::{Adapters, Topology};

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

impl Engine {
    /// A builder starting from `config`.
    pub fn builder(config: LMRotateConfig) -> EngineBuilder {
        EngineBuilder::new(config)
    }

    /// The config in force.
    pub fn config(&self) -> Arc<LMRotateConfig> {
        self.inner.topology.load().config.clone()
    }

    /// The config's whole-call deadline (`defaults.call_timeout_seconds`), read without
    /// taking a reference to the config.
    pub fn call_timeout(&self) -> Option<Duration> {
        let seconds = self
            .inner
            .topology
            .load()
            .config
            .defaults
            .call_timeout_seconds;
        seconds.map(Duration::from_secs)
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

    /// One chat call, with rotation, retries and fallback.
    pub async fn chat(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: &ChatOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        let request = Arc::new(chat_request(messages, opts)?);
        let span = telemetry::call_span("llm_rotate.chat", "chat", model);
        let carried = request.clone();
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries)
            .carrying(&carried)
            .affine(opts.affinity.as_deref())
            .for_client(opts.client.as_deref())
            .waiting(opts.max_wait);
        self.complete(route, request, |adapter, call| adapter.chat(call))
            .instrument(span.clone())
            .await
            .inspect(|answer| telemetry::record_answer(&span, answer))
            .inspect_err(|e| telemetry::record_failure(&span, e.kind().as_str()))
    }

    /// A streamed chat call. Fails over like [`chat`](Self::chat) until the first chunk with
    /// content; after that an upstream error ends the stream with one `Err` item.
    pub async fn chat_stream(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: &ChatOptions,
    ) -> Result<ChatStream, LMRotateError> {
        let request = Arc::new(chat_request(messages, opts)?);
        let span = telemetry::call_span("llm_rotate.chat_stream", "chat", model);
        let carried = request.clone();
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries)
            .carrying(&carried)
            .affine(opts.affinity.as_deref())
            .for_client(opts.client.as_deref())
            .waiting(opts.max_wait);
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
        let span = telemetry::call_span("llm_rotate.generate_content", "generate_content", model);
        self.complete(route, request, |adapter, call| adapter.generate(call))
            .instrument(span.clone())
            .await
            .inspect(|answer| telemetry::record_answer(&span, answer))
            .inspect_err(|e| telemetry::record_failure(&span, e.kind().as_str()))
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
        self.drive(&route, |mut lease| {
            let call = lease.call(request.clone());
            let adapter = lease.adapter();
            let clock = clock.clone();
            async move {
                match send(adapter.as_ref(), call).await {
                    Ok(reply) => {
                        let cost = lease.succeed(
                            reply.usage,
                            reply.headroom,
                            reply.upstream_provider.as_deref(),
                        );
                        Attempted::Done(ChatResponse {
                            content: reply.content,
                            provider: lease.provider_name().to_string(),
                            model: lease.answering_model(reply.model),
                            key_id: lease.info().id().to_owned(),
                            usage: reply.usage,
                            cost_usd: cost.map(crate::price::nano_to_usd),
                            latency_ms: elapsed_ms(clock.as_ref(), started),
                            finish_reason: reply.finish_reason,
                            tool_calls: reply.tool_calls,
                            reasoning: reply.reasoning,
                            refusal: reply.refusal,
                            raw: reply.raw,
                            passthrough: reply.passthrough,
                        })
                    }
                    Err(error) => Attempted::Failed(lease, error),
                }
            }
        })
        .await
    }

    /// A streamed call of any request kind: `open` opens the adapter's stream.
    async fn open_stream<R: Send + Sync + 'static>(
        &self,
        route: Route<'_>,
        request: Arc<R>,
        open: SendFn<R, ProviderStreamStart>,
    ) -> Result<ChatStream, LMRotateError> {
        self.drive(&route, |lease| {
            let call = lease.call(request.clone());
            let adapter = lease.adapter();
            async move {
                let start = match open(adapter.as_ref(), call).await {
                    Ok(start) => start,
                    Err(error) => return Attempted::Failed(lease, error),
                };
                let mut events = start.events;
                // a passthrough stream's events before the first content go out with it
                let mut before = None;
                loop {
                    match events.next().await {
                        Some(Ok(mut delta)) if delta.has_content() => {
                            delta.raw = join_raw(before, delta.raw);
                            let first = StreamChunk::from_delta(
                                delta,
                                lease.provider_name(),
                                lease.model(),
                            );
                            return Attempted::Done(ChatStream::leased(LeasedStream::new(
                                lease,
                                Some(first),
                                events,
                                start.headroom,
                            )));
                        }
                        Some(Ok(delta)) => before = join_raw(before, delta.raw),
                        Some(Err(error)) => return Attempted::Failed(lease, error),
                        None => {
                            let first = before.map(|raw| StreamChunk {
                                provider: lease.provider_name().to_string(),
                                model: lease.model().to_string(),
                                raw: Some(raw),
                                ..StreamChunk::default()
                            });
                            return Attempted::Done(ChatStream::leased(LeasedStream::ended(
                                lease,
                                first,
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
        self.inner.wake_if_eligible(&state, now);
        Ok(())
    }

    /// Records that `key_id` served `affinity`, so calls naming that affinity prefer it
    /// (the gateway pins a Responses `id` to the key that made it this way). An unknown
    /// key id is ignored.
    pub fn remember_affinity(&self, affinity: &str, key_id: &str) {
        let topology = self.inner.topology.load();
        if let Some(&(p, k)) = topology.key_by_id.get(key_id) {
            let id = topology.providers[p].keys[k].info.id_arc();
            let hash = crate::affinity::affinity_hash(affinity);
            self.inner.remember_affinity(hash, id);
        }
    }

    /// How many calls wait for a key to come back now (see
    /// [`ChatOptions::max_wait`](crate::options::ChatOptions::max_wait)).
    pub fn waiting_calls(&self) -> u32 {
        self.inner.waiting.count()
    }

    /// The key recorded for `affinity` (the one a call naming it prefers), if any.
    pub fn affinity_key(&self, affinity: &str) -> Option<String> {
        let hash = crate::affinity::affinity_hash(affinity);
        self.inner.affinity.peek(hash).map(|id| id.to_string())
    }

    /// How prompt-cache affinity fared in this process: hits, misses, entries.
    pub fn affinity_stats(&self) -> crate::affinity::AffinityStats {
        self.inner.affinity.stats()
    }

    /// A snapshot of every key's and provider's health (the shared view with a shared store).
    pub async fn health(&self) -> HealthReport {
        self.inner.health_report().await
    }

    /// Admits one request of `client` under `limits` (see [`crate::limit`]).
    pub async fn admit_client(&self, client: &str, limits: &ClientLimits) -> LimitResult {
        let now = self.inner.clock.unix_ms();
        self.inner.store.admit_client(client, limits, now).await
    }

    /// Usage counters (the shared ones with a shared store).
    pub async fn usage_summary(&self) -> UsageSummary {
        self.inner.usage_report().await
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
        let now = self.inner.clock.unix_ms();
        // a reload gives dead keys (disabled for auth) another chance: new credentials
        // may have come with it
        for slot in &topology.providers {
            for (k, key) in slot.keys.iter().enumerate() {
                if key.runtime.health().is_dead() {
                    let state = self.inner.store.apply(
                        key.info.id(),
                        HealthEvent::Enable,
                        now,
                        &slot.policy,
                    );
                    key.runtime.install(state);
                    slot.index.refresh(k, now);
                    tracing::info!(key_id = %key.info.id(), "reload: a key disabled for auth is tried again");
                }
            }
        }
        self.inner.topology.store(Arc::new(topology));
        // new keys, or keys back from the dead, may serve a waiting call
        self.inner.waiting.wake();
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

/// Milliseconds since `started` by `clock`'s monotonic time.
fn elapsed_ms(clock: &dyn Clock, started: Duration) -> f64 {
    clock.monotonic().saturating_sub(started).as_secs_f64() * 1000.0
}

/// Raw events held so far, then `next`'s.
fn join_raw(held: Option<String>, next: Option<String>) -> Option<String> {
    match (held, next) {
        (Some(mut held), Some(next)) => {
            held.push_str(&next);
            Some(held)
        }
        (held, next) => held.or(next),
    }
}

/// The neutral request of a chat call, checked for what no vendor could take.
fn chat_request(
    messages: &[ChatMessage],
    opts: &ChatOptions,
) -> Result<ChatRequest, LMRotateError> {
    let request = ChatRequest {
        messages: messages.to_vec(),
        max_tokens: opts.max_tokens,
        temperature: opts.temperature,
        tools: opts.tools.clone(),
        tool_choice: opts.tool_choice.clone(),
        parallel_tool_calls: opts.parallel_tool_calls,
        response_format: opts.response_format.clone(),
        reasoning_effort: opts.reasoning_effort.clone(),
        reasoning_budget_tokens: opts.reasoning_budget_tokens,
        extra: opts.extra.clone(),
        passthrough: opts.passthrough.clone(),
    };
    request.check().map_err(|reason| {
        LMRotateError::Provider(crate::error::ProviderError::new(
            crate::error::ErrorKind::InvalidRequest,
            reason,
        ))
    })?;
    Ok(request)
}
