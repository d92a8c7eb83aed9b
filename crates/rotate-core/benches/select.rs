//! Selection cost: one `acquire` (plan, select, in-flight lease, release) per iteration,
//! for each strategy, with 10, 1,000 and 100,000 keys of one provider.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures_util::FutureExt;
use rotate_core::engine::Engine;
use rotate_core::LMRotateConfig;
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

criterion_group!(benches, selection);
criterion_main!(benches);
