//! The background side of the Redis store: the writer (transitions, usage batches,
//! rate windows, resynchronisation, reconnection with backoff) and the subscriber
//! (announcements from other processes).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rotate_core::error::StoreError;
use rotate_core::health::{HealthEvent, HealthPolicy, MAX_QUARANTINE_DOUBLINGS};
use rotate_core::limit::{usage_charges, LimitKind};
use rotate_core::store::{RateWindow, UsageRecord};
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::{decode_state, AffinityAnnouncement, Announcement};
use super::keys::{DIMENSIONS, FIELD_SEPARATOR};
use super::script::{TRANSITION, USAGE_BATCH};
use super::{timed, Inner, LIMIT_GRACE_MS};

/// How long a usage batch's marker lives (retries happen well within it).
const BATCH_MARKER_MS: u64 = 3_600_000;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// One attempt's usage, owned, on its way to Redis.
#[derive(Debug)]
pub(crate) struct UsageDelta {
    key_id: String,
    provider: String,
    model: String,
    upstream: Option<String>,
    success: bool,
    usage: rotate_core::response::Usage,
    cost_nano_usd: u64,
    client: Option<String>,
    at_ms: u64,
}

impl From<&UsageRecord<'_>> for UsageDelta {
    fn from(r: &UsageRecord<'_>) -> Self {
        Self {
            key_id: r.key_id.to_owned(),
            provider: r.provider.to_owned(),
            model: r.model.to_owned(),
            upstream: r.upstream_provider.map(str::to_owned),
            success: r.success,
            usage: r.usage,
            cost_nano_usd: r.cost_nano_usd,
            client: r.client.map(str::to_owned),
            at_ms: r.at_ms,
        }
    }
}

/// The counters of a usage hash, in [`Counts`] order.
const COUNTERS: [&str; 7] = [
    "requests",
    "successes",
    "failures",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_nano_usd",
];

/// Increments of the seven counters, in [`COUNTERS`] order.
type Counts = [u64; 7];

impl UsageDelta {
    fn counts(&self) -> Counts {
        let (ok, failed) = if self.success { (1, 0) } else { (0, 1) };
        [
            1,
            ok,
            failed,
            self.usage.prompt_tokens,
            self.usage.completion_tokens,
            self.usage.total_tokens,
            self.cost_nano_usd,
        ]
    }
}

/// Usage gathered since the last batch: totals, and per name for each dimension. Adding
/// a delta allocates only for a name not seen yet; fields are formatted once per batch.
#[derive(Default)]
struct PendingUsage {
    total: Counts,
    by: [HashMap<String, Counts>; DIMENSIONS.len()],
    any: bool,
}

fn add_counts(into: &mut Counts, from: &Counts) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

impl PendingUsage {
    fn add(&mut self, delta: UsageDelta) {
        let counts = delta.counts();
        add_counts(&mut self.total, &counts);
        let names = [
            Some(delta.provider),
            Some(delta.key_id),
            Some(delta.model),
            delta.upstream,
            delta.client,
        ];
        for (map, name) in self.by.iter_mut().zip(names) {
            let Some(name) = name else { continue };
            match map.get_mut(name.as_str()) {
                Some(existing) => add_counts(existing, &counts),
                None => {
                    map.insert(name, counts);
                }
            }
        }
        self.any = true;
    }

    /// The (hash index, field, increment) rows of everything gathered, leaving it empty.
    /// Index 0 is the total hash, then the dimensions.
    fn take_rows(&mut self) -> Vec<(usize, String, u64)> {
        let mut rows = Vec::new();
        for (counter, amount) in COUNTERS.iter().zip(self.total) {
            if amount > 0 {
                rows.push((0, (*counter).to_owned(), amount));
            }
        }
        for (i, map) in self.by.iter_mut().enumerate() {
            for (name, counts) in map.drain() {
                for (counter, amount) in COUNTERS.iter().zip(counts) {
                    if amount > 0 {
                        rows.push((i + 1, format!("{name}{FIELD_SEPARATOR}{counter}"), amount));
                    }
                }
            }
        }
        *self = Self::default();
        rows
    }
}

/// Work for the writer.
#[derive(Debug)]
pub(crate) enum Op {
    Transition {
        key_id: Arc<str>,
        event: HealthEvent,
        now_ms: u64,
        policy: HealthPolicy,
    },
    Usage(UsageDelta),
    Window {
        key_id: Arc<str>,
        window: RateWindow,
        start_ms: u64,
        amount: u64,
    },
    /// Announce that `key_id` served the affinity hashed `hash`.
    Affinity {
        hash: u64,
        key_id: Arc<str>,
    },
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// The most affinity announcements held while Redis is away (the latest per affinity).
const MAX_PENDING_AFFINITIES: usize = 4096;

/// A frozen usage batch: its sequence number and its (hash index, field, increment) rows.
type FrozenBatch = (u64, Vec<(usize, String, u64)>);

#[derive(Default)]
struct Pending {
    transitions: VecDeque<Op>,
    usage: PendingUsage,
    /// The batch being written, frozen so a retry sends exactly the same increments.
    batch: Option<FrozenBatch>,
    windows: HashMap<(Arc<str>, RateWindow, u64), u64>,
    /// Client counter increments: (client, counter, window start) to (amount, window end).
    limits: HashMap<(String, LimitKind, u64), (u64, u64)>,
    affinities: HashMap<u64, Arc<str>>,
    flushes: Vec<oneshot::Sender<Result<(), StoreError>>>,
}

impl Pending {
    fn add(&mut self, op: Op) {
        match op {
            op @ Op::Transition { .. } => self.transitions.push_back(op),
            Op::Usage(delta) => {
                self.add_limits(&delta);
                self.usage.add(delta);
            }
            Op::Window {
                key_id,
                window,
                start_ms,
                amount,
            } => {
                *self.windows.entry((key_id, window, start_ms)).or_default() += amount;
            }
            Op::Affinity { hash, key_id } => {
                if self.affinities.len() < MAX_PENDING_AFFINITIES
                    || self.affinities.contains_key(&hash)
                {
                    self.affinities.insert(hash, key_id);
                }
            }
            Op::Flush(done) => self.flushes.push(done),
        }
    }

    /// Adds a success's tokens and cost to its client's counters.
    fn add_limits(&mut self, delta: &UsageDelta) {
        let Some(client) = delta.client.as_ref().filter(|_| delta.success) else {
            return;
        };
        for (kind, amount) in usage_charges(delta.usage.total_tokens, delta.cost_nano_usd) {
            if amount == 0 {
                continue;
            }
            let (start, end) = kind.window().bounds_ms(delta.at_ms);
            let slot = self
                .limits
                .entry((client.clone(), kind, start))
                .or_insert((0, end));
            slot.0 = slot.0.saturating_add(amount);
        }
    }

    fn has_writes(&self) -> bool {
        !self.limits.is_empty()
            || !self.transitions.is_empty()
            || self.usage.any
            || self.batch.is_some()
            || !self.windows.is_empty()
            || !self.affinities.is_empty()
    }
}

/// The writer loop: gathers whatever is queued, writes it, retries with backoff while
/// Redis is away (keeping everything), and answers flushes.
pub(crate) async fn run(inner: Arc<Inner>, mut queue: mpsc::UnboundedReceiver<Op>) {
    let mut pending = Pending::default();
    let mut seq = 0u64;
    let mut resync = true;
    let mut backoff = MIN_BACKOFF;
    loop {
        if !resync && !pending.has_writes() && pending.flushes.is_empty() {
            match queue.recv().await {
                Some(op) => pending.add(op),
                None => return,
            }
        }
        while let Ok(op) = queue.try_recv() {
            pending.add(op);
        }
        match write(&inner, &mut pending, &mut seq, resync).await {
            Ok(()) => {
                inner.mark_connected();
                resync = false;
                backoff = MIN_BACKOFF;
                for done in pending.flushes.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                inner.mark_unreachable(&error);
                resync = true;
                for done in pending.flushes.drain(..) {
                    let _ = done.send(Err(StoreError::new(format!(
                        "redis: {error}; writes are kept and retried"
                    ))));
                }
                pause(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[allow(clippy::disallowed_methods)] // reconnection backoff is real time
async fn pause(wait: Duration) {
    tokio::time::sleep(wait).await;
}

async fn write(
    inner: &Inner,
    pending: &mut Pending,
    seq: &mut u64,
    resync: bool,
) -> Result<(), String> {
    let mut connection = inner.connection().await?;
    if resync {
        resynchronise(inner, &mut connection).await?;
    }
    let transition = redis::Script::new(TRANSITION);
    while let Some(Op::Transition {
        key_id,
        event,
        now_ms,
        policy,
    }) = pending.transitions.front()
    {
        let reply: (String, String, u64, u64, u8, u64, u64) = timed(
            transition
                .key(inner.keys.state(key_id))
                .key(inner.keys.known())
                .arg(&**key_id)
                .arg(event.code())
                .arg(event.argument_ms())
                .arg(*now_ms)
                .arg(policy.cooldown_ms)
                .arg(policy.quarantine_ms)
                .arg(policy.max_consecutive_failures)
                .arg(MAX_QUARANTINE_DOUBLINGS)
                .arg(inner.keys.channel())
                .arg(&inner.instance)
                .arg(policy.dead_after_failed_probes)
                .invoke_async(&mut connection),
        )
        .await?;
        if reply.5 == 1 {
            tracing::warn!(key_id = %key_id, "malformed key state found in Redis; it was reset by this transition");
        }
        match decode_state(&[
            Some(reply.0),
            Some(reply.1),
            Some(reply.2.to_string()),
            Some(reply.3.to_string()),
            Some(reply.4.to_string()),
            Some(reply.6.to_string()),
        ]) {
            Ok(Some(state)) => inner.adopt(key_id, state),
            Ok(None) | Err(_) => {
                tracing::warn!(key_id = %key_id, "unreadable transition result from Redis")
            }
        }
        pending.transitions.pop_front();
    }
    if !pending.affinities.is_empty() {
        let mut pipe = redis::pipe();
        for (hash, key_id) in &pending.affinities {
            let message = AffinityAnnouncement::encode(*hash, key_id, &inner.instance);
            pipe.cmd("PUBLISH")
                .arg(inner.keys.channel())
                .arg(message)
                .ignore();
        }
        timed(pipe.query_async::<()>(&mut connection)).await?;
        pending.affinities.clear();
    }
    if !pending.windows.is_empty() {
        let windows: Vec<_> = pending
            .windows
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let mut pipe = redis::pipe();
        for ((key_id, window, start_ms), amount) in &windows {
            let name = inner.keys.window(key_id, *window, *start_ms);
            pipe.cmd("INCRBY").arg(&name).arg(*amount);
            pipe.cmd("PEXPIRE")
                .arg(&name)
                .arg(window.len_ms() * 2)
                .ignore();
        }
        let totals: Vec<u64> = timed(pipe.query_async(&mut connection)).await?;
        pending.windows.clear();
        for (((key_id, window, start_ms), _), total) in windows.into_iter().zip(totals) {
            inner.local.raise_window(&key_id, window, start_ms, total);
        }
    }
    if !pending.limits.is_empty() {
        // all or nothing, so a retry after a failed write does not count twice
        let mut pipe = redis::pipe();
        pipe.atomic();
        for ((client, kind, start_ms), (amount, end_ms)) in &pending.limits {
            let name = inner.keys.limit(client, *kind, *start_ms);
            pipe.cmd("INCRBY").arg(&name).arg(*amount).ignore();
            pipe.cmd("PEXPIREAT")
                .arg(&name)
                .arg(end_ms + LIMIT_GRACE_MS)
                .ignore();
        }
        timed(pipe.query_async::<()>(&mut connection)).await?;
        pending.limits.clear();
    }
    loop {
        if pending.batch.is_none() {
            if !pending.usage.any {
                break;
            }
            let increments = pending.usage.take_rows();
            *seq += 1;
            pending.batch = Some((*seq, increments));
        }
        let Some((batch_seq, increments)) = &pending.batch else {
            break;
        };
        let script = redis::Script::new(USAGE_BATCH);
        let mut invocation = script.key(inner.keys.batch(&inner.instance, *batch_seq));
        invocation.key(inner.keys.usage_total());
        for dimension in DIMENSIONS {
            invocation.key(inner.keys.usage(dimension));
        }
        invocation.arg(BATCH_MARKER_MS);
        for (hash, field, amount) in increments {
            invocation.arg(hash + 2).arg(field).arg(*amount);
        }
        let _applied: u64 = timed(invocation.invoke_async(&mut connection)).await?;
        pending.batch = None;
    }
    Ok(())
}

/// Reads every known key's shared state into the local view.
async fn resynchronise(
    inner: &Inner,
    connection: &mut super::pool::Connection,
) -> Result<(), String> {
    let ids: Vec<String> = timed(
        redis::cmd("SMEMBERS")
            .arg(inner.keys.known())
            .query_async(connection),
    )
    .await?;
    let ids: Vec<Arc<str>> = ids.into_iter().map(Arc::from).collect();
    let states = inner.read_states(&ids).await?;
    for (id, state) in ids.iter().zip(states) {
        if let Some(state) = state {
            inner.adopt(id, state);
        }
    }
    Ok(())
}

/// The subscriber loop: hears other processes' transitions until the store is dropped.
pub(crate) async fn subscribe(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let session = async {
            let mut pubsub = inner
                .client
                .get_async_pubsub()
                .await
                .map_err(|e| e.to_string())?;
            pubsub
                .subscribe(inner.keys.channel())
                .await
                .map_err(|e| e.to_string())?;
            let mut messages = pubsub.on_message();
            while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                hear(&inner, &payload);
            }
            Err::<(), String>("subscription ended".to_owned())
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            result = session => {
                if let Err(error) = result {
                    tracing::debug!(%error, "state store subscription lost; reconnecting");
                }
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = pause(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn hear(inner: &Inner, payload: &str) {
    if let Some(affinity) = AffinityAnnouncement::parse(payload) {
        if affinity.o != inner.instance {
            inner.adopt_affinity(affinity.hash(), &affinity.k);
        }
        return;
    }
    let announcement = match Announcement::parse(payload) {
        Ok(a) => a,
        Err(reason) => {
            tracing::warn!(%reason, "ignored a malformed state announcement");
            return;
        }
    };
    if announcement.o == inner.instance {
        return;
    }
    match announcement.state() {
        Ok(state) => inner.adopt(&announcement.k, state),
        Err(reason) => {
            tracing::warn!(%reason, key_id = %announcement.k, "ignored a malformed state announcement")
        }
    }
}
