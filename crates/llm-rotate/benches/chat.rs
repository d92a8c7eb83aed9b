//! A whole `chat()` against the fake upstream on loopback, next to a bare hyper request
//! to the same endpoint (body built with serde_json, response read and parsed), one call
//! at a time and 64 at once. The difference of the sequential medians is the engine's
//! overhead per call; the ratio of the concurrent ones is its throughput cost.
//!
//! The upstream runs on its own runtime thread; the clients share one current-thread
//! runtime. Sequential samples interleave the two clients call by call (each sample
//! times one for criterion and runs the other beside it, in alternating order), so both
//! see the same machine load. The one-key samples also record each pair's difference;
//! their median, written to `target/criterion/chat_paired_overhead.json`, is the
//! overhead figure least moved by a noisy machine, since drift cancels within a pair.
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::disallowed_methods)] // benchmarks time real work

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::FakeUpstream;

const CONCURRENCY: u64 = 64;

struct Bare {
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
}

impl Bare {
    async fn call(&self, messages: &[ChatMessage]) -> serde_json::Value {
        let body =
            serde_json::to_vec(&serde_json::json!({"model": "gpt-4o-mini", "messages": messages}))
                .expect("body");
        let request = http::Request::post(&self.url)
            .header("authorization", "Bearer sk-test-k0")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let response = self.client.request(request).await.expect("response");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).expect("json")
    }
}

struct Setup {
    _server: tokio::runtime::Runtime,
    upstream: FakeUpstream,
    /// Four keys of one provider.
    client: LMRotate,
    /// One key, the same one the bare client uses.
    one_key: LMRotate,
    bare: Arc<Bare>,
}

fn setup(runtime: &tokio::runtime::Runtime) -> Setup {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let upstream = server
        .block_on(FakeUpstream::start_quiet())
        .expect("upstream");
    let client_of = |keys: usize| {
        let config = LMRotateConfig::from_value(keys_config(&upstream, keys)).expect("config");
        LMRotate::new(config).expect("client")
    };
    let client = client_of(4);
    let one_key = client_of(1);
    let bare = runtime.block_on(async {
        Arc::new(Bare {
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build_http(),
            url: format!("{}/chat/completions", upstream.base_url()),
        })
    });
    Setup {
        _server: server,
        upstream,
        client,
        one_key,
        bare,
    }
}

/// Times `timed`, running `other` beside each call (before it on even iterations, after
/// it on odd ones) so both clients share the load; pushes each pair's difference
/// (`timed` minus `other`, in nanoseconds) onto `differences` when given.
async fn paired<T, O, TF, OF>(
    iters: u64,
    timed: T,
    other: O,
    differences: Option<&RefCell<Vec<f64>>>,
) -> Duration
where
    T: Fn() -> TF,
    O: Fn() -> OF,
    TF: Future<Output = ()>,
    OF: Future<Output = ()>,
{
    let mut total = Duration::ZERO;
    for i in 0..iters {
        let (timed_took, other_took) = if i % 2 == 0 {
            let other_took = time(other()).await;
            (time(timed()).await, other_took)
        } else {
            let timed_took = time(timed()).await;
            (timed_took, time(other()).await)
        };
        total += timed_took;
        if let Some(differences) = differences {
            let difference = timed_took.as_secs_f64() - other_took.as_secs_f64();
            differences.borrow_mut().push(difference * 1e9);
        }
    }
    total
}

async fn time(call: impl Future<Output = ()>) -> Duration {
    let start = Instant::now();
    call.await;
    start.elapsed()
}

/// The median and quartiles of `differences`, printed under `label`; `None` when the
/// bench that collects them was filtered out.
fn summarize(label: &str, mut differences: Vec<f64>) -> Option<(f64, f64, f64, usize)> {
    if differences.is_empty() {
        return None;
    }
    differences.sort_by(f64::total_cmp);
    let at = |q: usize| differences[(differences.len() - 1) * q / 4];
    let (q1, median, q3) = (at(1), at(2), at(3));
    eprintln!(
        "{label}, paired: median {:.2} µs, quartiles {:.2} / {:.2} µs over {} pairs",
        median / 1e3,
        q1 / 1e3,
        q3 / 1e3,
        differences.len()
    );
    Some((median, q1, q3, differences.len()))
}

/// Writes the one-key client's paired figure beside criterion's own results.
fn write_paired_overhead((median, q1, q3, pairs): (f64, f64, f64, usize)) {
    let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
    else {
        return;
    };
    let json = format!(
        "{{\"median_ns\": {median:.1}, \"q1_ns\": {q1:.1}, \"q3_ns\": {q3:.1}, \"pairs\": {pairs}}}\n"
    );
    let dir = target.join("criterion");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("chat_paired_overhead.json"), json);
    }
}

async fn concurrent<F, Fut>(iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    let per_task = iters.div_ceil(CONCURRENCY);
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let call = call.clone();
                    tokio::task::spawn_local(async move {
                        for _ in 0..per_task {
                            call().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        })
        .await;
    start
        .elapsed()
        .mul_f64(iters as f64 / (per_task * CONCURRENCY) as f64)
}

/// The config of `n` OpenAI keys `k0`, `k1`, … pointing at `upstream`.
fn keys_config(upstream: &FakeUpstream, n: usize) -> serde_json::Value {
    let keys: Vec<(String, &str)> = (0..n).map(|i| (format!("k{i}"), "openai")).collect();
    let refs: Vec<(&str, &str)> = keys.iter().map(|(id, p)| (id.as_str(), *p)).collect();
    upstream.config(&refs, serde_json::json!({}))
}

/// The four-key client with the Redis store, on the same upstream (when a Redis
/// answers at the test URL).
#[cfg(feature = "redis")]
fn redis_backed(runtime: &tokio::runtime::Runtime, upstream: &FakeUpstream) -> Option<LMRotate> {
    let url = rotate_testkit::redis_server::test_redis_url();
    if std::net::TcpStream::connect(url.trim_start_matches("redis://")).is_err() {
        eprintln!("no Redis at {url}: skipping the Redis-backed bench");
        return None;
    }
    let mut config = keys_config(upstream, 4);
    config["state_store"] = serde_json::json!({"backend": "redis", "redis_url": url, "redis_namespace": rotate_testkit::redis_server::fresh_namespace("bench")});
    let client =
        LMRotate::new(LMRotateConfig::from_value(config).expect("config")).expect("client");
    runtime.block_on(async {
        client
            .chat(
                "gpt-4o-mini",
                &[ChatMessage::user("warm up")],
                ChatOptions::default(),
            )
            .await
            .expect("chat")
    });
    Some(client)
}

fn chat(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Setup {
        client,
        one_key,
        bare,
        upstream,
        ..
    } = &setup(&runtime);
    #[cfg(not(feature = "redis"))]
    let _ = upstream; // only the Redis-backed client needs it
    let messages = vec![ChatMessage::user("What is the capital of France?")];
    let call_with = |client: &'static LMRotate| {
        let messages = messages.clone();
        move || {
            let messages = messages.clone();
            async move {
                drop(
                    client
                        .chat("gpt-4o-mini", &messages, ChatOptions::default())
                        .await
                        .expect("chat"),
                )
            }
        }
    };
    let rotate_call = call_with(leak(one_key));
    let rotate_4keys_call = call_with(leak(client));
    let bare_call = || async { drop(bare.call(&messages).await) };

    let differences = RefCell::new(Vec::new());
    let adapter_differences = RefCell::new(Vec::new());
    let mut group = c.benchmark_group("chat/sequential");
    group.bench_function("bare_hyper", |b| {
        b.iter_custom(|iters| runtime.block_on(paired(iters, bare_call, rotate_call.clone(), None)))
    });
    group.bench_function("llm_rotate", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(paired(
                iters,
                rotate_call.clone(),
                bare_call,
                Some(&differences),
            ))
        })
    });
    group.bench_function("llm_rotate_4keys", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(paired(iters, rotate_4keys_call.clone(), bare_call, None))
        })
    });
    let adapter = {
        use llm_rotate::core::provider::AdapterFactory;
        let config = client.config().provider("openai").expect("openai");
        rotate_providers::HttpAdapterFactory::default()
            .adapter("openai", &config, &client.config().defaults)
            .expect("adapter")
    };
    let call = rotate_testkit::provider_call(
        "openai",
        "gpt-4o-mini",
        "sk-test-k0",
        llm_rotate::core::provider::ChatRequest {
            messages: messages.clone(),
            ..Default::default()
        },
        &[],
    );
    let adapter_call = || async { drop(adapter.chat(call.clone()).await.expect("chat")) };
    group.bench_function("adapter_only", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(paired(
                iters,
                adapter_call,
                bare_call,
                Some(&adapter_differences),
            ))
        })
    });
    group.finish();
    if let Some(figure) = summarize("chat() minus bare hyper", differences.into_inner()) {
        write_paired_overhead(figure);
    }
    summarize(
        "the adapter alone minus bare hyper",
        adapter_differences.into_inner(),
    );

    let mut group = c.benchmark_group("chat/concurrent64");
    #[cfg(feature = "redis")]
    let redis_client = redis_backed(&runtime, upstream);
    #[cfg(feature = "redis")]
    if let Some(redis_client) = &redis_client {
        concurrent_chat(
            &mut group,
            &runtime,
            "llm_rotate_redis",
            redis_client,
            &messages,
        );
    }
    group.bench_function("bare_hyper", |b| {
        b.iter_custom(|iters| {
            let bare = bare.clone();
            let messages = messages.clone();
            runtime.block_on(concurrent(iters, move || {
                let bare = bare.clone();
                let messages = messages.clone();
                async move { drop(bare.call(&messages).await) }
            }))
        })
    });
    concurrent_chat(&mut group, &runtime, "llm_rotate", client, &messages);
    group.finish();
}

/// A clone of `client` that lives for the whole bench run.
fn leak(client: &LMRotate) -> &'static LMRotate {
    Box::leak(Box::new(client.clone()))
}

/// Benches `client.chat` under 64 concurrent callers as `name`.
fn concurrent_chat(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    client: &LMRotate,
    messages: &[ChatMessage],
) {
    let messages: Arc<[ChatMessage]> = messages.into();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let client = client.clone();
            let messages = messages.clone();
            runtime.block_on(concurrent(iters, move || {
                let client = client.clone();
                let messages = messages.clone();
                async move {
                    drop(
                        client
                            .chat("gpt-4o-mini", &messages, ChatOptions::default())
                            .await
                            .expect("chat"),
                    )
                }
            }))
        })
    });
}

criterion_group!(benches, chat);
criterion_main!(benches);
