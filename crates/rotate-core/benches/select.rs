//! Selection cost: one `acquire` (plan, select, in-flight lease, release) per iteration,
//! for each strategy, with 10, 1,000 and 100,000 keys of one provider; and
//! `health_aware` thinking ahead (keys in quota groups of four, a 60 s slow start, a
//! tenth of the groups ramping back up after a rest) with 10 and 100,000 keys.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures_util::FutureExt;
use rotate_core::engine::Engine;
use rotate_core::{AcquireContext, LMRotateConfig, ManualClock, ReportedError};
use rotate_store::MemoryStore;
use rotate_testkit::ScriptedProvider;

/// An engine over `keys` keys of provider `p` (each key's JSON from `key`) under
/// `defaults`, on `clock` (else the system clock).
fn engine(
    keys: usize,
    key: impl Fn(usize) -> serde_json::Value,
    defaults: serde_json::Value,
    clock: Option<Arc<ManualClock>>,
) -> Engine {
    let keys: Vec<serde_json::Value> = (0..keys).map(key).collect();
    let config = LMRotateConfig::from_value(serde_json::json!({
        "defaults": defaults,
        "keys": keys,
    }))
    .expect("config");
    let builder = Engine::builder(config).store(Arc::new(MemoryStore::new()));
    let builder = match clock {
        Some(clock) => builder.clock(clock),
        None => builder,
    };
    builder
        .provider("p", ScriptedProvider::new())
        .build()
        .expect("engine")
}

/// One selection, as a call makes it.
fn acquire(engine: &Engine) -> AcquireContext {
    engine
        .acquire("p", None)
        .now_or_never()
        .expect("ready")
        .expect("a key")
}

fn bench_acquire(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    engine: &Engine,
) {
    group.bench_with_input(id, engine, |b, engine| {
        b.iter(|| black_box(acquire(engine).key_id().len()));
    });
}

fn selection(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    for strategy in ["health_aware", "round_robin", "priority", "weighted"] {
        for keys in [10usize, 1_000, 100_000] {
            if strategy != "health_aware" && keys == 100_000 {
                continue;
            }
            let key = |i: usize| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": "v", "weight": 1 + i % 3});
            let defaults = serde_json::json!({"selection_strategy": strategy});
            let engine = engine(keys, key, defaults, None);
            bench_acquire(&mut group, BenchmarkId::new(strategy, keys), &engine);
        }
    }
    group.finish();
}

/// `keys` keys in quota groups of four under a 60 s slow start, every tenth group (at
/// least one) 30 s into its ramp after a 429.
fn thinking_ahead(keys: usize) -> Engine {
    let key = |i: usize| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": "v", "quota_group": format!("g{}", i / 4)});
    let defaults =
        serde_json::json!({"selection_strategy": "health_aware", "slow_start_seconds": 60});
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let engine = engine(keys, key, defaults, Some(clock.clone()));
    for _ in (0..keys.div_ceil(4)).step_by(10) {
        let rest =
            ReportedError::from_status(429).with_retry_after(std::time::Duration::from_secs(1));
        acquire(&engine)
            .report_error(rest)
            .now_or_never()
            .expect("ready");
    }
    clock.advance(std::time::Duration::from_secs(31));
    engine
}

fn selection_thinking_ahead(c: &mut Criterion) {
    let mut group = c.benchmark_group("select_ahead");
    for keys in [10usize, 100_000] {
        let engine = thinking_ahead(keys);
        bench_acquire(&mut group, BenchmarkId::new("health_aware", keys), &engine);
    }
    group.finish();
}

criterion_group!(benches, selection, selection_thinking_ahead);
criterion_main!(benches);
