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
use rotate_core::{LMRotateConfig, ManualClock, ReportedError};
use rotate_store::MemoryStore;
use rotate_testkit::ScriptedProvider;

fn engine(keys: usize, strategy: &str) -> Engine {
    let keys: Vec<serde_json::Value> = (0..keys)
        .map(|i| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": "v", "weight": 1 + i % 3}))
        .collect();
    let config = LMRotateConfig::from_value(serde_json::json!({
        "defaults": {"selection_strategy": strategy},
        "keys": keys,
    }))
    .expect("config");
    Engine::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .provider("p", ScriptedProvider::new())
        .build()
        .expect("engine")
}

fn selection(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    for strategy in ["health_aware", "round_robin", "priority", "weighted"] {
        for keys in [10usize, 1_000, 100_000] {
            if strategy != "health_aware" && keys == 100_000 {
                continue;
            }
            let engine = engine(keys, strategy);
            group.bench_with_input(BenchmarkId::new(strategy, keys), &engine, |b, engine| {
                b.iter(|| {
                    let lease = engine
                        .acquire("p", None)
                        .now_or_never()
                        .expect("ready")
                        .expect("a key");
                    black_box(lease.key_id().len())
                });
            });
        }
    }
    group.finish();
}

/// `keys` keys in quota groups of four under a 60 s slow start, every tenth group (at
/// least one) 30 s into its ramp after a 429.
fn thinking_ahead(keys: usize) -> Engine {
    let specs: Vec<serde_json::Value> = (0..keys)
        .map(|i| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": "v", "quota_group": format!("g{}", i / 4)}))
        .collect();
    let config = LMRotateConfig::from_value(serde_json::json!({
        "defaults": {"selection_strategy": "health_aware", "slow_start_seconds": 60},
        "keys": specs,
    }))
    .expect("config");
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let engine = Engine::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .provider("p", ScriptedProvider::new())
        .build()
        .expect("engine");
    let groups = keys.div_ceil(4);
    for _ in (0..groups).step_by(10) {
        let key = engine
            .acquire("p", None)
            .now_or_never()
            .expect("ready")
            .expect("a key");
        key.report_error(
            ReportedError::from_status(429).with_retry_after(std::time::Duration::from_secs(1)),
        )
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
        group.bench_with_input(
            BenchmarkId::new("health_aware", keys),
            &engine,
            |b, engine| {
                b.iter(|| {
                    let lease = engine
                        .acquire("p", None)
                        .now_or_never()
                        .expect("ready")
                        .expect("a key");
                    black_box(lease.key_id().len())
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, selection, selection_thinking_ahead);
criterion_main!(benches);
