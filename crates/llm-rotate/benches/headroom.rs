//! A load run against the fake upstream with a request budget per key and window (the
//! fake counts them down in OpenAI's `x-ratelimit-*` headers and answers 429 past
//! them): the same traffic, 32 calls at a time at 90 % of what the keys allow together,
//! under `health_aware` and under `round_robin`. Prints how many calls each sent past a
//! budget (429s) and writes them to `target/criterion/headroom_load.json` for
//! `cargo xtask bench`. Windows turn on a manual clock shared by client and upstream, so
//! the counts repeat from run to run.
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // a benchmark harness of its own

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig, ManualClock};
use rotate_testkit::upstream::key_value;
use rotate_testkit::FakeUpstream;

/// Requests per one-second window of each of eight keys: 240 in all, unevenly spread.
const BUDGETS: [u64; 8] = [5, 10, 15, 20, 30, 40, 50, 70];
const WINDOWS: usize = 40;
const CONCURRENCY: usize = 32;
const CALLS_PER_WINDOW: usize = 216;

/// The 429s and failed calls of one run under `strategy`.
async fn run(strategy: &str) -> (u64, usize, usize) {
    let upstream = FakeUpstream::start_quiet().await.expect("upstream");
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    upstream.set_clock(clock.clone());
    let ids: Vec<String> = (0..BUDGETS.len()).map(|i| format!("k{i}")).collect();
    for (id, budget) in ids.iter().zip(BUDGETS) {
        upstream.set_request_budget(&key_value(id), budget, Duration::from_secs(1));
    }
    let keys: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "openai")).collect();
    let config = upstream.config(
        &keys,
        serde_json::json!({"selection_strategy": strategy, "max_retries": 0}),
    );
    let client = LMRotate::builder(LMRotateConfig::from_value(config).expect("config"))
        .clock(clock.clone())
        .build()
        .expect("client");
    let messages = [ChatMessage::user("hi")];
    let (mut failed, mut calls) = (0, 0);
    for _ in 0..WINDOWS {
        for _ in 0..CALLS_PER_WINDOW / CONCURRENCY {
            let batch = (0..CONCURRENCY)
                .map(|_| client.chat("gpt-4o-mini", &messages, ChatOptions::default()));
            let results = join_all(batch).await;
            calls += results.len();
            failed += results.iter().filter(|r| r.is_err()).count();
        }
        if std::env::var_os("HEADROOM_TRACE").is_some() {
            eprintln!("{strategy}: refusals so far {}", upstream.budget_refusals());
        }
        clock.advance(Duration::from_secs(1));
    }
    (upstream.budget_refusals(), failed, calls)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // run when unfiltered, or when a filter names this run
    let named = |f: &String| f.contains("headroom") || "headroom/load".contains(f.as_str());
    if !args.is_empty() && !args.iter().any(named) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (aware, aware_failed, calls) = runtime.block_on(run("health_aware"));
    let (rr, rr_failed, _) = runtime.block_on(run("round_robin"));
    eprintln!(
        "headroom load, {calls} calls: 429s past a budget: health_aware {aware} ({aware_failed} calls failed), round_robin {rr} ({rr_failed} failed)"
    );
    let json = format!(
        "{{\"calls\": {calls}, \"health_aware_429\": {aware}, \"round_robin_429\": {rr}}}\n"
    );
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()));
    if let Some(target) = target {
        let dir = target.join("criterion");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("headroom_load.json"), json);
        }
    }
}
