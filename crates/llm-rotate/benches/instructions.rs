//! Instruction counts (callgrind, through iai-callgrind) of the per-call work, so that a
//! change's cost shows as a number that repeats on a noisy machine: one engine call
//! against an in-process provider next to that provider alone, one selection with 10
//! and 100,000 keys, and one OpenAI reply parsed. Every setup (building the engine, a
//! first call that fills the plan cache and the thread's state) is outside the count,
//! and so is tearing the engine down (it is leaked: dropping 100,000 keys is not part
//! of a call).
//! Run by `cargo xtask bench`, which installs the runner when it is missing.
#![allow(missing_docs)] // the benchmark macros generate undocumented items

use std::hint::black_box;
use std::sync::Arc;

use futures_util::FutureExt;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use llm_rotate::core::engine::Engine;
use llm_rotate::core::provider::{ChatRequest, Provider, ProviderCall};
use llm_rotate::{ChatMessage, ChatOptions, LMRotateConfig, ProviderConfig};
use rotate_providers::{OpenAiWire, WireProtocol};
use rotate_store::MemoryStore;
use rotate_testkit::{provider_call, ScriptedProvider};

const OPENAI_REPLY: &[u8] = br#"{"id":"chatcmpl-AbC123","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris. It is known for the Eiffel Tower, the Louvre, and its cafes.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":23,"total_tokens":47,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_0aa8d3e20b"}"#;

fn messages() -> Vec<ChatMessage> {
    vec![ChatMessage::user("What is the capital of France?")]
}

/// An engine over `keys` keys of provider `p` (an in-process scripted provider).
fn engine(keys: usize, strategy: &str) -> (Engine, Arc<ScriptedProvider>) {
    let provider = ScriptedProvider::new();
    provider.set_log_enabled(false);
    let keys: Vec<serde_json::Value> = (0..keys)
        .map(|i| serde_json::json!({"id": format!("k{i}"), "provider": "p", "value": format!("v{i}")}))
        .collect();
    let mut config = LMRotateConfig::from_value(serde_json::json!({
        "defaults": {"selection_strategy": strategy},
        "keys": keys,
    }))
    .expect("config");
    config.providers.insert(
        "p".into(),
        ProviderConfig {
            models: vec!["m".into()],
            ..ProviderConfig::default()
        },
    );
    let engine = Engine::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .provider("p", provider.clone())
        .build()
        .expect("engine");
    (engine, provider)
}

/// An engine after one call (plan cached, thread state made).
fn warm_engine(keys: usize) -> Engine {
    let (engine, _) = engine(keys, "health_aware");
    let _ = engine
        .chat("m", &messages(), &ChatOptions::default())
        .now_or_never();
    engine
}

fn warm_provider() -> (Arc<ScriptedProvider>, ProviderCall) {
    let (_, provider) = engine(4, "health_aware");
    let request = ChatRequest {
        messages: messages(),
        ..ChatRequest::default()
    };
    let call = provider_call("p", "m", "v0", request, &[]);
    let _ = provider.chat(call.clone()).now_or_never();
    (provider, call)
}

#[library_benchmark]
#[bench::four_keys(warm_engine(4))]
fn engine_chat(engine: Engine) -> usize {
    let reply = engine
        .chat("m", &messages(), &ChatOptions::default())
        .now_or_never()
        .expect("ready")
        .expect("reply");
    std::mem::forget(engine);
    black_box(reply.content.len())
}

#[library_benchmark]
#[bench::same_call(warm_provider())]
fn provider_direct(setup: (Arc<ScriptedProvider>, ProviderCall)) -> usize {
    let answer = setup.0.chat(setup.1).now_or_never();
    let length = answer.and_then(Result::ok).map_or(0, |r| r.content.len());
    std::mem::forget(setup.0);
    black_box(length)
}

#[library_benchmark]
#[bench::keys_10(warm_engine(10))]
#[bench::keys_100000(warm_engine(100_000))]
fn select_health_aware(engine: Engine) -> usize {
    let lease = engine
        .acquire("p", None)
        .now_or_never()
        .expect("ready")
        .expect("a key");
    let shown = lease.key_id().len();
    drop(lease);
    std::mem::forget(engine);
    black_box(shown)
}

fn openai_wire() -> OpenAiWire {
    OpenAiWire::new("openai", &ProviderConfig::default()).expect("wire")
}

#[library_benchmark]
#[bench::typical(openai_wire())]
fn parse_openai_reply(wire: OpenAiWire) -> usize {
    let reply = wire.parse_reply(black_box(OPENAI_REPLY)).expect("parses");
    black_box(reply.content.len())
}

library_benchmark_group!(
    name = per_call;
    benchmarks = engine_chat, provider_direct, select_health_aware, parse_openai_reply
);

main!(library_benchmark_groups = per_call);
