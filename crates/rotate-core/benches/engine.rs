//! The engine's own cost per call, with no network: `Engine::chat` against an in-process
//! provider, next to calling that provider directly. The difference is everything the
//! engine adds (plan, selection, lease, outcome bookkeeping, usage, response).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use rotate_core::engine::Engine;
use rotate_core::provider::{ChatRequest, Provider};
use rotate_core::{ChatMessage, ChatOptions, LMRotateConfig};
use rotate_store::MemoryStore;
use rotate_testkit::{provider_call, ScriptedProvider};

fn engine(provider: Arc<ScriptedProvider>) -> Engine {
    let keys: Vec<serde_json::Value> = (0..4)
        .map(|i| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": format!("v{i}"), "models": []}))
        .collect();
    let mut config = LMRotateConfig::from_value(serde_json::json!({"keys": keys})).expect("config");
    config.providers.insert(
        "p".into(),
        rotate_core::ProviderConfig {
            models: vec!["m".into()],
            ..Default::default()
        },
    );
    Engine::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .provider("p", provider)
        .build()
        .expect("engine")
}

fn overhead(c: &mut Criterion) {
    let provider = ScriptedProvider::new();
    provider.set_log_enabled(false);
    let engine = engine(provider.clone());
    let messages = vec![ChatMessage::user("What is the capital of France?")];
    let call = provider_call(
        "p",
        "m",
        "v0",
        ChatRequest {
            messages: messages.clone(),
            ..ChatRequest::default()
        },
        &[],
    );
    let mut group = c.benchmark_group("engine");
    group.bench_function("provider_direct", |b| {
        b.iter(|| {
            provider
                .chat(call.clone())
                .now_or_never()
                .expect("ready")
                .expect("reply")
        })
    });
    group.bench_function("chat", |b| {
        b.iter(|| {
            engine
                .chat("m", &messages, &ChatOptions::default())
                .now_or_never()
                .expect("ready")
                .expect("reply")
        })
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
