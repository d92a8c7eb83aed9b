//! The wait path's wake-up latency: a call with `max_wait` whose only key rests for a
//! few milliseconds, timed from the moment the key's rest ends (its `until`, by the
//! system clock) to the call's answer, in process with the real clock and timer.
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::disallowed_methods)] // benchmarks time real work

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use rotate_core::engine::Engine;
use rotate_core::{ChatMessage, ChatOptions, LMRotateConfig, ReportedError};
use rotate_store::MemoryStore;
use rotate_testkit::ScriptedProvider;

fn engine() -> Engine {
    let config = LMRotateConfig::from_value(serde_json::json!({
        "keys": [{"id": "a", "provider": "p", "value": "v"}],
    }))
    .expect("config");
    let provider = ScriptedProvider::new();
    provider.set_log_enabled(false);
    Engine::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .provider("p", provider)
        .build()
        .expect("engine")
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

fn wake_up(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = engine();
    let messages = [ChatMessage::user("hi")];
    let options = ChatOptions::default().max_wait(Duration::from_secs(1));
    let mut group = c.benchmark_group("wait");
    group.sample_size(30);
    group.bench_function("wake_up_after_until", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let lease = engine.acquire("p", None).await.expect("a key");
                    let rest =
                        ReportedError::from_status(429).with_retry_after(Duration::from_millis(3));
                    lease.report_error(rest).await;
                    let until_us = u128::from(engine.store().state("a").until_ms) * 1_000;
                    engine
                        .chat("p/m", &messages, &options)
                        .await
                        .expect("served after the wait");
                    let late = now_us().saturating_sub(until_us);
                    total += Duration::from_micros(u64::try_from(late).unwrap_or(u64::MAX));
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, wake_up);
criterion_main!(benches);
