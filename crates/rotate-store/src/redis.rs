//! The Redis backend: one key-health view shared by many processes.
//!
//! Hot-path calls never wait on Redis. Each process keeps a local view (a
//! [`MemoryStore`]) that selection reads; transitions are applied to it at once and
//! written behind, each by one Lua script that mirrors the core's transition function
//! and announces the result on the namespace's channel. Every other process hears the
//! announcement and updates its view (so a cooldown is seen fleet-wide within
//! milliseconds). Usage counters are written in batches, each applied exactly once (a
//! marker key makes a retried batch a no-op). If Redis goes away, calls go on from the
//! local view, `connected()` turns false, one warning is logged, the writer retries
//! with backoff, and on return the view is resynchronised and pending writes flushed.
//! Client admission is the one call that asks Redis first (one script, so a client's
//! `rpm` holds across the fleet); while Redis is away it decides from the local view.

mod codec;
mod keys;
mod pool;
mod script;
mod writer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rotate_core::config::StateStoreConfig;
use rotate_core::error::{ConfigurationError, StoreError};
use rotate_core::health::{HealthEvent, HealthPolicy, HealthState};
use rotate_core::limit::{ClientLimits, LimitExceeded, LimitKind, LimitWindow};
use rotate_core::provider::BoxFuture;
use rotate_core::report::{Counters, UsageSummary};
use rotate_core::store::{RateWindow, StateListener, StateStore, UsageRecord};
use tokio::sync::{mpsc, oneshot, watch};

use crate::memory::MemoryStore;
use keys::{Keys, DIMENSIONS, FIELD_SEPARATOR};
use writer::{Op, UsageDelta};

/// How long one Redis operation may take before the store counts Redis as unreachable.
const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `health()` and `usage_summary()` wait for Redis before they answer from this
/// process's view (marked `local_only`): a report never waits on a store that is away.
const REPORT_BUDGET: Duration = Duration::from_millis(40);

/// How long a client admission waits for Redis before it decides from this process's
/// counts.
const ADMIT_BUDGET: Duration = Duration::from_millis(500);

/// How long a client counter outlives its window (clocks of processes differ a little).
pub(crate) const LIMIT_GRACE_MS: u64 = 60_000;

/// What the background tasks share.
pub(crate) struct Inner {
    local: MemoryStore,
    keys: Keys,
    instance: String,
    pool: pool::Pool,
    /// For pub/sub: the first node given (a cluster forwards every publish to every node).
    client: redis::Client,
    connected: AtomicBool,
    /// Set when an operation found Redis away, cleared when one reaches it again (unlike
    /// `connected`, false before the first attempt).
    away: AtomicBool,
    listener: RwLock<Option<Weak<dyn StateListener>>>,
    shown_url: String,
}

impl Inner {
    /// Tells the listener of another process's affinity.
    fn adopt_affinity(&self, hash: u64, key_id: &str) {
        let listener = self.listener.read().as_ref().and_then(Weak::upgrade);
        if let Some(listener) = listener {
            listener.on_affinity(hash, key_id);
        }
    }

    /// Installs a state that came from Redis, telling the listener when it changed.
    fn adopt(&self, key_id: &str, state: HealthState) {
        if self.local.state(key_id) == state {
            return;
        }
        self.local.install(key_id, state);
        let listener = self.listener.read().as_ref().and_then(Weak::upgrade);
        if let Some(listener) = listener {
            listener.on_state(key_id, state);
        }
    }

    fn mark_connected(&self) {
        self.away.store(false, Ordering::Release);
        if !self.connected.swap(true, Ordering::AcqRel) {
            tracing::info!(url = %self.shown_url, "state store connected");
        }
    }

    fn mark_unreachable(&self, error: &str) {
        self.away.store(true, Ordering::Release);
        if self.connected.swap(false, Ordering::AcqRel) {
            tracing::warn!(url = %self.shown_url, %error, "state store unreachable; serving from the local view until it returns");
        }
    }

    async fn connection(&self) -> Result<pool::Connection, String> {
        match tokio::time::timeout(OP_TIMEOUT, self.pool.get()).await {
            Ok(result) => result,
            Err(_) => Err("timed out connecting".to_owned()),
        }
    }

    /// Reads the shared states of `ids` (`None` for ids Redis has no state for).
    async fn read_states(&self, ids: &[Arc<str>]) -> Result<Vec<Option<HealthState>>, String> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.state(id))
                .arg(&codec::STATE_FIELDS);
        }
        let rows: Vec<Vec<Option<String>>> = timed(pipe.query_async(&mut connection)).await?;
        Ok(ids
            .iter()
            .zip(rows)
            .map(|(id, fields)| match codec::decode_state(&fields) {
                Ok(state) => state,
                Err(reason) => {
                    tracing::warn!(key_id = %id, %reason, "malformed key state in Redis; keeping this process's view");
                    None
                }
            })
            .collect())
    }

    /// Runs the admission script: `None` when admitted, else the counter at its cap.
    async fn admit(
        &self,
        client: &str,
        limits: &ClientLimits,
        now_ms: u64,
    ) -> Result<Option<LimitKind>, String> {
        let mut connection = self.connection().await?;
        let script = redis::Script::new(script::ADMIT_CLIENT);
        let mut invocation = script.prepare_invoke();
        for kind in LimitKind::ALL {
            let start = kind.window().bounds_ms(now_ms).0;
            invocation.key(self.keys.limit(client, kind, start));
        }
        for kind in LimitKind::ALL {
            invocation.arg(
                limits
                    .cap(kind)
                    .map_or(-1, |cap| i64::try_from(cap).unwrap_or(i64::MAX)),
            );
        }
        let (_, minute_end) = LimitWindow::Minute.bounds_ms(now_ms);
        invocation.arg(minute_end + LIMIT_GRACE_MS);
        let refused: usize = timed(invocation.invoke_async(&mut connection)).await?;
        Ok(refused
            .checked_sub(1)
            .and_then(|i| LimitKind::ALL.get(i).copied()))
    }

    async fn read_usage(&self) -> Result<UsageSummary, String> {
        let mut connection = self.connection().await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.keys.usage_total());
        for dimension in DIMENSIONS {
            pipe.cmd("HGETALL").arg(self.keys.usage(dimension));
        }
        let hashes: Vec<Vec<(String, String)>> = timed(pipe.query_async(&mut connection)).await?;
        let mut summary = UsageSummary::default();
        for (i, fields) in hashes.into_iter().enumerate() {
            for (field, value) in fields {
                let Ok(value) = value.parse::<u64>() else {
                    tracing::warn!(%field, "malformed usage counter in Redis; ignored");
                    continue;
                };
                if i == 0 {
                    set_counter(&mut summary.total, &field, value);
                    continue;
                }
                let Some((name, counter)) = field.rsplit_once(FIELD_SEPARATOR) else {
                    tracing::warn!(%field, "malformed usage field in Redis; ignored");
                    continue;
                };
                let map: &mut BTreeMap<String, Counters> = match DIMENSIONS[i - 1] {
                    "provider" => &mut summary.by_provider,
                    "key" => &mut summary.by_key,
                    "model" => &mut summary.by_model,
                    "upstream" => &mut summary.by_upstream_provider,
                    _ => &mut summary.by_client,
                };
                set_counter(map.entry(name.to_owned()).or_default(), counter, value);
            }
        }
        Ok(summary)
    }
}

fn set_counter(counters: &mut Counters, name: &str, value: u64) {
    match name {
        "requests" => counters.requests = value,
        "successes" => counters.successes = value,
        "failures" => counters.failures = value,
        "prompt_tokens" => counters.prompt_tokens = value,
        "completion_tokens" => counters.completion_tokens = value,
        "total_tokens" => counters.total_tokens = value,
        "cost_nano_usd" => counters.cost_nano_usd = value,
        _ => {}
    }
}

/// Runs one Redis future under [`OP_TIMEOUT`].
async fn timed<T>(
    future: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, future).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// The Redis-backed [`StateStore`].
pub struct RedisStore {
    inner: Arc<Inner>,
    queue: mpsc::UnboundedSender<Op>,
    pending: Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.shown_url)
            .field("connected", &self.inner.connected.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis server at `url` under `namespace`. Nothing connects yet: the
    /// background tasks start with the first call made inside a Tokio runtime.
    pub fn new(url: &str, namespace: &str) -> Result<Self, ConfigurationError> {
        Self::connect(url, false, namespace)
    }

    /// A store on the Redis Cluster reached through `seeds` (comma-separated node URLs,
    /// or one configuration endpoint; the client discovers the other nodes).
    pub fn cluster(seeds: &str, namespace: &str) -> Result<Self, ConfigurationError> {
        Self::connect(seeds, true, namespace)
    }

    /// The store `config` describes (`redis_url`, `redis_cluster`, `redis_namespace`).
    pub fn from_config(config: &StateStoreConfig) -> Result<Self, ConfigurationError> {
        Self::connect(
            &config.redis_url,
            config.redis_cluster,
            &config.redis_namespace,
        )
    }

    fn connect(urls: &str, cluster: bool, namespace: &str) -> Result<Self, ConfigurationError> {
        let shown_url = rotate_core::config::redact_url_password(urls);
        let invalid = |e: &dyn std::fmt::Display| {
            ConfigurationError::new(
                "state_store.redis_url",
                format!("`{shown_url}` is not a usable Redis URL: {e}"),
            )
        };
        let urls: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        let first = urls.first().ok_or_else(|| invalid(&"no URL given"))?;
        let client = redis::Client::open(first.as_str()).map_err(|e| invalid(&e))?;
        for url in &urls[1..] {
            redis::Client::open(url.as_str()).map_err(|e| invalid(&e))?;
        }
        let pool = pool::Pool::new(&urls, cluster, OP_TIMEOUT).map_err(|e| invalid(&e))?;
        let (queue, receiver) = mpsc::unbounded_channel();
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                local: MemoryStore::new(),
                keys: Keys::new(namespace),
                instance: instance_id(),
                pool,
                client,
                connected: AtomicBool::new(false),
                away: AtomicBool::new(false),
                listener: RwLock::new(None),
                shown_url,
            }),
            queue,
            pending: Mutex::new(Some(receiver)),
            shutdown,
        })
    }

    /// Starts the writer and the subscriber on the current runtime, once.
    fn start(&self) {
        if self.pending.lock().is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(receiver) = self.pending.lock().take() else {
            return;
        };
        runtime.spawn(writer::run(self.inner.clone(), receiver));
        runtime.spawn(writer::subscribe(
            self.inner.clone(),
            self.shutdown.subscribe(),
        ));
    }

    fn send(&self, op: Op) {
        self.start();
        // the receiver lives as long as the writer, which lives as long as this store
        let _ = self.queue.send(op);
    }

    /// Deletes every Redis key of the namespace (for tests and decommissioning).
    pub async fn delete_namespace(&self) -> Result<u64, StoreError> {
        let mut connection = self.inner.connection().await.map_err(StoreError::new)?;
        let failed = |e: redis::RedisError| StoreError::new(e.to_string());
        // every key of the namespace lives in the slot of `{namespace}`: scan that node
        let anchor = self.inner.keys.known();
        let mut names: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(self.inner.keys.pattern())
                .arg("COUNT")
                .arg(500);
            let reply = connection
                .on_node_of(&anchor, &scan)
                .await
                .map_err(failed)?;
            let (next, batch): (u64, Vec<String>) = redis::FromRedisValue::from_redis_value(reply)
                .map_err(|e| StoreError::new(e.to_string()))?;
            names.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if names.is_empty() {
            return Ok(0);
        }
        let deleted: u64 = redis::cmd("DEL")
            .arg(&names)
            .query_async(&mut connection)
            .await
            .map_err(|e| StoreError::new(e.to_string()))?;
        Ok(deleted)
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn instance_id() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl RedisStore {
    /// Flushes pending writes, then runs the read `read`, all within [`REPORT_BUDGET`];
    /// while Redis is known to be away it does not try at all. A read that fails marks
    /// Redis unreachable; one that is merely slow does not (the writer decides that).
    async fn within_report_budget<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        self.start();
        if self.inner.away.load(Ordering::Acquire) {
            return Err("unreachable".to_owned());
        }
        let flushed_then_read = async {
            let _ = self.flush().await;
            read.await
        };
        match tokio::time::timeout(REPORT_BUDGET, flushed_then_read).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.inner.mark_unreachable(&error);
                Err(error)
            }
            Err(_) => Err("no answer within the report budget".to_owned()),
        }
    }
}

impl StateStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    fn state(&self, key_id: &str) -> HealthState {
        self.inner.local.state(key_id)
    }

    fn apply(
        &self,
        key_id: &str,
        event: HealthEvent,
        now_ms: u64,
        policy: &HealthPolicy,
    ) -> HealthState {
        let state = self.inner.local.apply(key_id, event, now_ms, policy);
        self.send(Op::Transition {
            key_id: Arc::from(key_id),
            event,
            now_ms,
            policy: *policy,
        });
        state
    }

    fn record(&self, record: &UsageRecord<'_>) {
        self.inner.local.record(record);
        self.send(Op::Usage(UsageDelta::from(record)));
    }

    fn admit_client<'a>(
        &'a self,
        client: &'a str,
        limits: &'a ClientLimits,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), LimitExceeded>> {
        Box::pin(async move {
            if limits.is_unlimited() {
                return Ok(());
            }
            self.start();
            let shared = async {
                if self.inner.away.load(Ordering::Acquire) {
                    return Err("unreachable".to_owned());
                }
                let refused =
                    tokio::time::timeout(ADMIT_BUDGET, self.inner.admit(client, limits, now_ms))
                        .await
                        .map_err(|_| "no answer within the report budget".to_owned())?;
                refused.inspect_err(|error| self.inner.mark_unreachable(error))
            };
            match shared.await {
                Ok(None) => Ok(()),
                Ok(Some(kind)) => Err(LimitExceeded::new(kind, now_ms)),
                Err(error) => {
                    tracing::debug!(%error, "client admission decided from this process's counts");
                    self.inner.local.limit_table().admit(client, limits, now_ms)
                }
            }
        })
    }

    fn count_window(&self, key_id: &str, window: RateWindow, amount: u64, now_ms: u64) -> u64 {
        let count = self
            .inner
            .local
            .count_window(key_id, window, amount, now_ms);
        self.send(Op::Window {
            key_id: Arc::from(key_id),
            window,
            start_ms: window.start_ms(now_ms),
            amount,
        });
        count
    }

    fn share_affinity(&self, hash: u64, key_id: &Arc<str>) {
        self.send(Op::Affinity {
            hash,
            key_id: key_id.clone(),
        });
    }

    fn set_listener(&self, listener: Weak<dyn StateListener>) {
        *self.inner.listener.write() = Some(listener);
    }

    fn usage(&self) -> BoxFuture<'_, Result<UsageSummary, StoreError>> {
        Box::pin(async move {
            let shared = self.within_report_budget(self.inner.read_usage()).await;
            match shared {
                Ok(summary) => Ok(summary),
                Err(_) => Ok(UsageSummary {
                    local_only: true,
                    ..self.inner.local.usage_table().summary()
                }),
            }
        })
    }

    fn states(
        &self,
        key_ids: Vec<Arc<str>>,
    ) -> BoxFuture<'_, Result<Vec<HealthState>, StoreError>> {
        Box::pin(async move {
            let shared = self
                .within_report_budget(self.inner.read_states(&key_ids))
                .await
                .map_err(|error| StoreError::new(format!("redis: {error}")))?;
            Ok(key_ids
                .iter()
                .zip(shared)
                .map(|(id, shared)| shared.unwrap_or_else(|| self.inner.local.state(id)))
                .collect())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let (done, result) = oneshot::channel();
            self.send(Op::Flush(done));
            match tokio::time::timeout(OP_TIMEOUT * 3, result).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(StoreError::new("the state store writer stopped")),
                Err(_) => Err(StoreError::new("flushing the state store timed out")),
            }
        })
    }
}
