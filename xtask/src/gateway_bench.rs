//! `cargo xtask bench-gateway`: the gateway's cost, measured with a real load generator.
//!
//! It builds `llm-rotate` in release mode, starts the fake upstream (`llm-rotate
//! fake-upstream`, no request log), starts the gateway in front of it with 4 keys, and
//! runs `wrk` (installed from Debian's packages when missing) against the upstream
//! directly and through the gateway, at concurrency 1 and 32. It prints requests per
//! second and p50/p90/p99 latency for each, the throughput ratio and the p99 added by
//! the gateway, and writes them to `target/bench-gateway.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{root, run};

const TOKEN: &str = "bench-gateway-token";
const BODY: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":16}"#;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary args` and reads the URL at the end of its first stdout line.
fn start(binary: &Path, args: &[&str]) -> Result<(Process, String), String> {
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !url.starts_with("http://") {
        return Err(format!(
            "{} did not start: `{}`",
            binary.display(),
            line.trim()
        ));
    }
    Ok((Process(child), url))
}

fn ensure_wrk() -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    crate::services::apt_install("wrk")
}

/// CPU time a process has used so far (user + system), from `/proc`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs `measure` and returns its result with the CPU µs per request `pid` spent.
fn with_cpu(
    pid: u32,
    seconds: u32,
    measure: impl FnOnce() -> Result<Figures, String>,
) -> Result<(Figures, f64), String> {
    let before = cpu_seconds(pid).unwrap_or(f64::NAN);
    let figures = measure()?;
    let after = cpu_seconds(pid).unwrap_or(f64::NAN);
    let requests = figures.requests_per_sec * f64::from(seconds);
    Ok((figures, (after - before) * 1e6 / requests))
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    requests_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
}

fn wrk(
    url: &str,
    connections: u32,
    authorization: &str,
    script_dir: &Path,
    seconds: u32,
) -> Result<Figures, String> {
    let script = script_dir.join(format!("post-{}.lua", authorization.len()));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {authorization}\"\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let threads = connections.min(2).to_string();
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads,
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("{url}/v1/chat/completions"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() || text.contains("Non-2xx") {
        return Err(format!("wrk against {url} failed:\n{text}"));
    }
    let value_after = |label: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(parse_wrk_number)
    };
    Ok(Figures {
        requests_per_sec: value_after("Requests/sec:")
            .ok_or_else(|| format!("no Requests/sec in\n{text}"))?,
        p50_ms: value_after("50%").unwrap_or(f64::NAN),
        p90_ms: value_after("90%").unwrap_or(f64::NAN),
        p99_ms: value_after("99%").unwrap_or(f64::NAN),
    })
}

/// `12.34us`, `1.20ms`, `1.01s` -> milliseconds; plain numbers as they are.
fn parse_wrk_number(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// Runs the benchmark.
pub fn bench_gateway(seconds: u32) -> Result<(), String> {
    ensure_wrk()?;
    run(
        "cargo",
        &["build", "--release", "-p", "llm-rotate-cli"],
        &[],
    )?;
    let binary = root().join("target/release/llm-rotate");
    let work: PathBuf = root().join("target/bench-gateway");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let (upstream, upstream_url) = start(&binary, &["fake-upstream"])?;
    let upstream_pid = upstream.0.id();
    let keys: Vec<String> = (1..=4)
        .map(|i| format!(r#"{{"id": "k{i}", "provider": "openai", "value": "sk-test-k{i}"}}"#))
        .collect();
    let config = format!(
        r#"{{"defaults": {{"selection_strategy": "round_robin"}}, "providers": {{"openai": {{"base_url": "{upstream_url}/v1"}}}}, "keys": [{}], "gateway": {{"tokens": ["{TOKEN}"]}}}}"#,
        keys.join(", ")
    );
    let config_path = work.join("config.json");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let config_arg = config_path.to_string_lossy().into_owned();
    let (gateway, gateway_url) = start(
        &binary,
        &["serve", "--config", &config_arg, "--listen", "127.0.0.1:0"],
    )?;
    // warm both paths (connection pools, first-call allocations)
    wrk(&upstream_url, 4, "sk-test-k1", &work, 1)?;
    wrk(&gateway_url, 4, TOKEN, &work, 1)?;
    let gateway_pid = gateway.0.id();
    let mut rows = Vec::new();
    let mut cpu = Vec::new();
    for connections in [1u32, 32] {
        let (direct, upstream_cpu) = with_cpu(upstream_pid, seconds, || {
            wrk(&upstream_url, connections, "sk-test-k1", &work, seconds)
        })?;
        let (through, gateway_cpu) = with_cpu(gateway_pid, seconds, || {
            wrk(&gateway_url, connections, TOKEN, &work, seconds)
        })?;
        rows.push((connections, direct, through));
        cpu.push((connections, upstream_cpu, gateway_cpu));
    }
    println!();
    println!(
        "{:<12} {:<16} {:>10} {:>9} {:>9} {:>9}",
        "concurrency", "path", "req/s", "p50 ms", "p90 ms", "p99 ms"
    );
    let mut json_rows = Vec::new();
    for (connections, direct, through) in &rows {
        for (name, f) in [("direct", direct), ("gateway", through)] {
            println!(
                "{:<12} {:<16} {:>10.0} {:>9.3} {:>9.3} {:>9.3}",
                connections, name, f.requests_per_sec, f.p50_ms, f.p90_ms, f.p99_ms
            );
        }
        let ratio = 100.0 * through.requests_per_sec / direct.requests_per_sec;
        let added = through.p99_ms - direct.p99_ms;
        println!(
            "{:<12} {:<16} {:>9.1}% of direct req/s; p99 added {:.3} ms",
            connections, "ratio", ratio, added
        );
        json_rows.push(format!(
            r#"{{"concurrency": {connections}, "direct": {{"rps": {:.1}, "p50_ms": {:.4}, "p90_ms": {:.4}, "p99_ms": {:.4}}}, "gateway": {{"rps": {:.1}, "p50_ms": {:.4}, "p90_ms": {:.4}, "p99_ms": {:.4}}}, "ratio_percent": {ratio:.1}, "p99_added_ms": {added:.4}}}"#,
            direct.requests_per_sec, direct.p50_ms, direct.p90_ms, direct.p99_ms,
            through.requests_per_sec, through.p50_ms, through.p90_ms, through.p99_ms
        ));
    }
    for (connections, upstream_cpu, gateway_cpu) in &cpu {
        println!(
            "CPU per request at concurrency {connections}: fake upstream {upstream_cpu:.1} µs, gateway {gateway_cpu:.1} µs (both on the same cores as wrk)"
        );
    }
    println!("goal at concurrency 32: gateway >= 60% of direct req/s, p99 added <= 1 ms");
    let out = root().join("target/bench-gateway.json");
    std::fs::write(&out, format!("[{}]\n", json_rows.join(",\n"))).map_err(|e| e.to_string())?;
    println!("written to {}", out.display());
    Ok(())
}
