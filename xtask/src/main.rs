//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: exactly what CI runs: format check, clippy with warnings denied and every
//!   test, each with all features, with the default features, and for the facade with
//!   none (starting the local Redis server the tests need when nothing answers), the
//!   Python package's pytest suite (in a virtualenv under `target/python`), then
//!   the docs with warnings denied, `cargo deny`, and a release dry run (every crate
//!   packaged and built from its package, the binary installed from its own);
//! - `bench`: the criterion benches, then the callgrind instruction counts of the
//!   per-call work (the runner installed under `target/tools` when missing), then a
//!   table of medians, counts and derived figures (also written as JSON to
//!   `target/bench-summary.json`);
//! - `chaos`: the fault-injection run (`crates/llm-rotate/benches/chaos.rs`): the
//!   router beside a naive client under random faults, dead keys among healthy ones,
//!   and a Redis outage; prints its figures and fails when a goal is missed;
//! - `bench-gateway [seconds]`: the gateway against the fake upstream under `wrk`:
//!   direct, through a bare relay and through the gateway, at concurrency 1 and 32,
//!   medians of 3 runs of `seconds` (default 5) each;
//! - `test-python`: the Python package's part of `ci` alone (pytest, mypy, the wheel
//!   installed and used on its own);
//! - `bench-python [rounds]`: the Python package's overhead over a bare httpx call (and
//!   LiteLLM's Router's, when installed in `target/python`), sequential and with 32
//!   concurrent tasks;
//! - `deny`: `cargo deny check` for licenses, bans and sources (cargo-deny installed
//!   under `target/tools` when missing); `ci` runs it too;
//! - `release [--dry-run] [--skip-ci] <patch|minor|major|X.Y.Z>`: the crates and the
//!   binary checked, packaged and installed from their packages, the version and the
//!   changelog moved on, and the `cargo publish` commands printed (see
//!   `docs/releasing.md`).
//!
//! It depends on nothing but the standard library.

mod gateway_bench;
mod instructions;
mod python;
mod release;
mod services;
mod sink;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("chaos") => chaos(),
        Some("bench-gateway") => {
            gateway_bench::bench_gateway(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5))
        }
        Some("test-python") => python::test(),
        Some("bench-python") => python::bench(args.get(1).map(String::as_str)),
        Some("deny") => deny(),
        Some("release") => release::Options::parse(&args[1..])
            .and_then(|options| release::release(&root(), &options)),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | bench [filter] | chaos | bench-gateway [seconds] | test-python | bench-python [rounds] | deny | release [--dry-run] <patch|minor|major|X.Y.Z>>"
            );
            Err("unknown command".to_owned())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace: `XTASK_ROOT` when set (the release tool's test runs it on a copy),
/// else the one xtask was built in.
fn root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    run_in(&root(), program, args, env)
}

/// Runs `program args` in `dir` with `env` set, its output shown.
fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// The feature sets CI builds: everything, the defaults, and the facade with none (so
/// every `cfg(not(feature = …))` arm compiles and its tests run).
const FEATURE_SETS: [&[&str]; 3] = [
    &["--workspace", "--all-features"],
    &["--workspace"],
    &["-p", "llm-rotate", "--no-default-features"],
];

fn ci() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    for features in FEATURE_SETS {
        let mut args = vec!["clippy", "--all-targets"];
        args.extend_from_slice(features);
        args.extend_from_slice(&["--", "-D", "warnings"]);
        run("cargo", &args, &[])?;
    }
    services::ensure_redis()?;
    services::ensure_chromium()?;
    for features in FEATURE_SETS {
        let mut args = vec!["test"];
        args.extend_from_slice(features);
        run("cargo", &args, &[])?;
    }
    python::test()?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deny()?;
    // every crate packages and builds from its package, and the binary installs from its own
    release::release(
        &root(),
        &release::Options::parse(
            &["--dry-run", "--allow-dirty", "--skip-ci", "patch"].map(String::from),
        )?,
    )?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// `cargo deny check` for licenses, bans and sources, cargo-deny installed under
/// `target/tools` when it is not on `PATH` (advisories need a network database and are
/// not checked).
fn deny() -> Result<(), String> {
    let on_path = Command::new("cargo-deny")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let tools = root().join("target").join("tools");
    let local = tools.join("bin").join("cargo-deny");
    let program = if on_path {
        "cargo-deny".to_owned()
    } else {
        if !local.is_file() {
            run(
                "cargo",
                &[
                    "install",
                    "--locked",
                    "cargo-deny",
                    "--root",
                    &tools.to_string_lossy(),
                ],
                &[],
            )?;
        }
        local.to_string_lossy().into_owned()
    };
    run(
        &program,
        &["deny", "check", "licenses", "bans", "sources"],
        &[],
    )
}

/// The chaos run, in release mode with every feature (it needs `redis-server` on PATH
/// for its Redis part, and starts its own).
fn chaos() -> Result<(), String> {
    run(
        "cargo",
        &[
            "bench",
            "-p",
            "llm-rotate",
            "--all-features",
            "--bench",
            "chaos",
        ],
        &[],
    )
}

/// One benchmark's median, read from criterion's estimates.
struct Median {
    id: String,
    nanos: f64,
    /// Bytes per iteration, when the bench declared a byte throughput.
    bytes: Option<f64>,
    /// When its estimates were written (seconds since the epoch).
    measured_at: u64,
}

/// The goals the benches are held to: (label, derived figure, goal text).
fn figures(medians: &[Median]) -> Vec<(String, String, &'static str)> {
    let get = |id: &str| medians.iter().find(|m| m.id == id).map(|m| m.nanos);
    let mut out = Vec::new();
    for keys in ["10", "1000", "100000"] {
        if let Some(ns) = get(&format!("select/health_aware/{keys}")) {
            let goal = if keys == "10" {
                "<= 200 ns"
            } else {
                "<= 1 µs"
            };
            out.push((
                format!("selection, health_aware, {keys} keys"),
                format_nanos(ns),
                goal,
            ));
        }
    }
    for keys in ["10", "100000"] {
        if let Some(ns) = get(&format!("select_ahead/health_aware/{keys}")) {
            let goal = if keys == "10" {
                "<= 200 ns"
            } else {
                "<= 1 µs"
            };
            out.push((
                format!("selection with quota groups and slow start, {keys} keys"),
                format_nanos(ns),
                goal,
            ));
        }
    }
    if let Some(ns) = get("wait/wake_up_after_until") {
        out.push((
            "a waiting call's answer after its key's rest ends".into(),
            format_nanos(ns),
            "<= 1 ms",
        ));
    }
    if let (Some(chat), Some(direct)) = (get("engine/chat"), get("engine/provider_direct")) {
        out.push((
            "engine overhead per call (no network)".into(),
            format_nanos(chat - direct),
            "<= 5 µs",
        ));
    }
    if let (Some(rotate), Some(bare)) = (
        get("chat_sequential/llm_rotate"),
        get("chat_sequential/bare_hyper"),
    ) {
        out.push((
            "chat() over loopback minus bare hyper (same key)".into(),
            format_nanos(rotate - bare),
            "(reference)",
        ));
    }
    if let (Some(rotate), Some(bare)) = (
        get("chat_sequential/llm_rotate_4keys"),
        get("chat_sequential/bare_hyper"),
    ) {
        out.push((
            "chat() rotating 4 keys minus bare hyper".into(),
            format_nanos(rotate - bare),
            "(reference)",
        ));
    }
    if let (Some(rotate), Some(bare)) = (
        get("chat_concurrent64/llm_rotate"),
        get("chat_concurrent64/bare_hyper"),
    ) {
        out.push((
            "throughput at 64 concurrent, vs bare hyper".into(),
            format!("{:.1} %", 100.0 * bare / rotate),
            ">= 90 %",
        ));
    }
    if let (Some(redis), Some(memory)) = (
        get("chat_concurrent64/llm_rotate_redis"),
        get("chat_concurrent64/llm_rotate"),
    ) {
        out.push((
            "throughput at 64 concurrent, Redis store vs memory".into(),
            format!("{:.1} %", 100.0 * memory / redis),
            ">= 80 %",
        ));
    }
    if let (Some(tool), Some(text)) = (
        get("parse/openai_tool_call_reply"),
        get("parse/openai_reply"),
    ) {
        out.push((
            "a tool-call reply's parse beyond a text reply's (same size)".into(),
            format_nanos(tool - text),
            "<= 2 µs",
        ));
    }
    if let Some(ns) = get("parse/openai_reply") {
        out.push((
            "parse a typical OpenAI reply".into(),
            format_nanos(ns),
            "<= 5 µs",
        ));
    }
    for (id, label) in [
        ("sse/decode", "SSE decoding"),
        (
            "sse/decode_and_parse_openai",
            "SSE decoding + OpenAI chunk parsing",
        ),
    ] {
        if let Some(m) = medians.iter().find(|m| m.id == id) {
            if let Some(bytes) = m.bytes {
                out.push((
                    label.into(),
                    format!("{:.0} MB/s", bytes / m.nanos * 1e3),
                    ">= 200 MB/s",
                ));
            }
        }
    }
    out
}

/// The criterion benches (the instruction-count bench runs on its own, under callgrind).
const CRITERION_BENCHES: [&str; 6] = ["select", "engine", "wait", "wire", "chat", "headroom"];

fn bench(filter: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--workspace", "--all-features"];
    for name in CRITERION_BENCHES {
        args.extend_from_slice(&["--bench", name]);
    }
    args.push("--");
    args.extend(filter.iter().map(String::as_str));
    let started = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_secs())
        .unwrap_or(0);
    run("cargo", &args, &[])?;
    let criterion = root().join("target").join("criterion");
    let mut medians = Vec::new();
    collect_medians(&criterion, &criterion, &mut medians);
    // only what this run measured (older results stay in target/criterion)
    medians.retain(|m| m.measured_at >= started);
    medians.sort_by(|a, b| a.id.cmp(&b.id));
    println!("\n{:<50} {:>14}", "benchmark", "median");
    for m in &medians {
        println!("{:<50} {:>14}", m.id, format_nanos(m.nanos));
    }
    let mut derived = figures(&medians);
    derived.extend(paired_overhead(&criterion, started));
    derived.extend(headroom_load(&criterion, started));
    match instructions::measure(&root()) {
        Ok(counts) => {
            println!("\n{:<60} {:>14}", "benchmark (callgrind)", "instructions");
            for (id, count) in &counts {
                println!("{id:<60} {count:>14}");
            }
            derived.extend(instructions::figures(&counts));
        }
        Err(reason) => eprintln!("xtask: instruction counts skipped: {reason}"),
    }
    println!("\n{:<50} {:>14}  goal", "figure", "measured");
    for (label, value, goal) in &derived {
        println!("{label:<50} {value:>14}  {goal}");
    }
    let json_medians: Vec<String> = medians
        .iter()
        .map(|m| {
            format!(
                "    {{\"id\": \"{}\", \"median_ns\": {:.1}}}",
                m.id, m.nanos
            )
        })
        .collect();
    let json_figures: Vec<String> = derived
        .iter()
        .map(|(label, value, goal)| {
            format!(
                "    {{\"figure\": \"{label}\", \"measured\": \"{value}\", \"goal\": \"{goal}\"}}"
            )
        })
        .collect();
    let out = root().join("target").join("bench-summary.json");
    let json = format!(
        "{{\n  \"medians\": [\n{}\n  ],\n  \"figures\": [\n{}\n  ]\n}}\n",
        json_medians.join(",\n"),
        json_figures.join(",\n")
    );
    std::fs::write(&out, json).map_err(|e| e.to_string())?;
    println!("\nwritten to {}", out.display());
    Ok(())
}

/// The headroom load run's 429 counts, when this run wrote them.
fn headroom_load(criterion: &Path, started: u64) -> Vec<(String, String, &'static str)> {
    let path = criterion.join("headroom_load.json");
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|t| t.as_secs() >= started);
    let Some(text) = fresh.then(|| std::fs::read_to_string(&path).ok()).flatten() else {
        return Vec::new();
    };
    let count = |name: &str| number_after(&text, &format!("\"{name}\":")).unwrap_or(f64::NAN);
    vec![
        (
            format!(
                "429s past a budget, health_aware ({} calls)",
                count("calls")
            ),
            format!("{}", count("health_aware_429")),
            "0",
        ),
        (
            "429s past a budget, round_robin (same traffic)".into(),
            format!("{}", count("round_robin_429")),
            "(compared)",
        ),
    ]
}

/// The chat bench's paired overhead figure, when this run wrote it.
fn paired_overhead(criterion: &Path, started: u64) -> Option<(String, String, &'static str)> {
    let path = criterion.join("chat_paired_overhead.json");
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    let written = written
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    if written < started {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let median = number_after(&text, "\"median_ns\":")?;
    Some((
        "chat() minus bare hyper, median of paired calls".into(),
        format_nanos(median),
        "<= 5 µs",
    ))
}

fn collect_medians(base: &Path, dir: &Path, out: &mut Vec<Median>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        let estimates = path.join("new").join("estimates.json");
        if estimates.is_file() {
            if let Some(nanos) = std::fs::read_to_string(&estimates)
                .ok()
                .and_then(|t| median_of(&t))
            {
                let id = path
                    .strip_prefix(base)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let bytes = std::fs::read_to_string(path.join("new").join("benchmark.json"))
                    .ok()
                    .and_then(|t| number_after(&t, "\"Bytes\":"));
                let measured_at = std::fs::metadata(&estimates)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                out.push(Median {
                    id,
                    nanos,
                    bytes,
                    measured_at,
                });
            }
        } else if path.is_dir() {
            collect_medians(base, &path, out);
        }
    }
}

/// Reads `"median":{..."point_estimate":X` from criterion's estimates.json.
fn median_of(text: &str) -> Option<f64> {
    let median = &text[text.find("\"median\"")?..];
    number_after(median, "\"point_estimate\":")
}

/// The number right after the first `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<f64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

fn format_nanos(nanos: f64) -> String {
    if nanos >= 1_000_000.0 {
        format!("{:.2} ms", nanos / 1_000_000.0)
    } else if nanos >= 1_000.0 {
        format!("{:.2} µs", nanos / 1_000.0)
    } else {
        format!("{nanos:.1} ns")
    }
}
