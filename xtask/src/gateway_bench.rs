//! `cargo xtask bench-gateway`: the gateway's cost, measured with a real load generator.
//!
//! It builds `llm-rotate` in release mode (with `otel`) and starts five servers: the
//! fake upstream (`llm-rotate fake-upstream`, no request log), three gateways in front of
//! it with 4 keys each (OpenAI keys, so the body passes through; the same with everything
//! an operator turns on: a client token with limits, cost, OTLP span export to a sink,
//! and the dashboard polled every second; Anthropic keys, so each request and answer is
//! translated), and, as the baseline, a bare relay in front of it (`llm-rotate relay`:
//! the same HTTP stack and worker threads, no parsing, no rotation). `wrk` (installed from Debian's
//! packages when missing) loads each in turn at concurrency 1 and 32, for several
//! rounds taken in turn so that a slow spell of the machine hits every path alike. It
//! prints the median requests per second and p50/p90/p99 latency of each path, the
//! ratios, the p99 the gateway adds and the CPU each server spends per request, and
//! writes them to `target/bench-gateway.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{root, run};

const TOKEN: &str = "bench-gateway-token";
/// The "operated" gateway's client token, with limits far above what the run reaches.
const CLIENT_TOKEN: &str = "bench-client-token";
const ADMIN_TOKEN: &str = "bench-admin-token";
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

/// How many rounds each path is measured; the medians are reported.
const ROUNDS: usize = 3;

/// The paths measured, in the order each round takes them.
const PATHS: [&str; 5] = ["direct", "relay", "gateway", "operated", "translated"];

/// The median of `values` (NaN when empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The medians of several runs' figures, field by field.
fn medians(runs: &[Figures]) -> Figures {
    let of = |field: fn(&Figures) -> f64| median(runs.iter().map(field).collect());
    Figures {
        requests_per_sec: of(|f| f.requests_per_sec),
        p50_ms: of(|f| f.p50_ms),
        p90_ms: of(|f| f.p90_ms),
        p99_ms: of(|f| f.p99_ms),
    }
}

/// One server under test.
struct Target {
    url: String,
    token: &'static str,
    pid: u32,
}

/// One path's medians at one concurrency, with its CPU per request.
struct Row {
    connections: u32,
    path: &'static str,
    figures: Figures,
    cpu_us: f64,
}

/// Runs the benchmark: `seconds` per run, [`ROUNDS`] runs per path and concurrency.
pub fn bench_gateway(seconds: u32) -> Result<(), String> {
    ensure_wrk()?;
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "llm-rotate-cli",
            "--features",
            "bench-tools,otel",
        ],
        &[],
    )?;
    let binary = root().join("target/release/llm-rotate");
    let work: PathBuf = root().join("target/bench-gateway");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let (upstream, upstream_url) = start(&binary, &["fake-upstream"])?;
    // the same OpenAI-format load through two gateways: one with OpenAI keys (the body
    // passes through), one with Anthropic keys (translated both ways)
    let collector = crate::sink::start()?;
    let operated = format!(
        r#", "clients": [{{"id": "bench", "token": "{CLIENT_TOKEN}", "rpm": 1000000000, "tpm": 1000000000000, "budget_usd_per_day": 1000000}}], "admin_tokens": ["{ADMIN_TOKEN}"], "otel_endpoint": "{collector}""#
    );
    let gateway_of = |provider: &str,
                      models: &str,
                      extra: &str|
     -> Result<(Process, String), String> {
        let keys: Vec<String> = (1..=4)
            .map(|i| {
                format!(r#"{{"id": "k{i}", "provider": "{provider}", "value": "sk-test-k{i}"}}"#)
            })
            .collect();
        let config = format!(
            r#"{{"defaults": {{"selection_strategy": "round_robin"}}, "providers": {{"{provider}": {{"base_url": "{upstream_url}/v1", "models": {models}}}}}, "keys": [{}], "gateway": {{"tokens": ["{TOKEN}"]{extra}}}}}"#,
            keys.join(", ")
        );
        let name = if extra.is_empty() {
            provider
        } else {
            "operated"
        };
        let config_path = work.join(format!("config-{name}.json"));
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let config_arg = config_path.to_string_lossy().into_owned();
        start(
            &binary,
            &["serve", "--config", &config_arg, "--listen", "127.0.0.1:0"],
        )
    };
    let (gateway, gateway_url) = gateway_of("openai", "[]", "")?;
    let (operated, operated_url) = gateway_of("openai", "[]", &operated)?;
    let (translated, translated_url) = gateway_of("anthropic", r#"["gpt-4o-mini"]"#, "")?;
    let _dashboard = Dashboard::open(&operated_url);
    let (relay, relay_url) = start(&binary, &["relay", "--to", &upstream_url])?;
    let targets = [
        Target {
            url: upstream_url,
            token: "sk-test-k1",
            pid: upstream.0.id(),
        },
        Target {
            url: relay_url,
            token: "sk-test-k1",
            pid: relay.0.id(),
        },
        Target {
            url: gateway_url,
            token: TOKEN,
            pid: gateway.0.id(),
        },
        Target {
            url: operated_url,
            token: CLIENT_TOKEN,
            pid: operated.0.id(),
        },
        Target {
            url: translated_url,
            token: TOKEN,
            pid: translated.0.id(),
        },
    ];
    // warm every path (connection pools, first-call allocations)
    for target in &targets {
        wrk(&target.url, 4, target.token, &work, 1)?;
    }
    let mut rows = Vec::new();
    for connections in [1u32, 32] {
        let mut runs: [Vec<Figures>; PATHS.len()] = Default::default();
        let mut cpu: [Vec<f64>; PATHS.len()] = Default::default();
        for _ in 0..ROUNDS {
            for (index, target) in targets.iter().enumerate() {
                let (figures, cpu_us) = with_cpu(target.pid, seconds, || {
                    wrk(&target.url, connections, target.token, &work, seconds)
                })?;
                runs[index].push(figures);
                cpu[index].push(cpu_us);
            }
        }
        for (index, path) in PATHS.into_iter().enumerate() {
            rows.push(Row {
                connections,
                path,
                figures: medians(&runs[index]),
                cpu_us: median(cpu[index].clone()),
            });
        }
    }
    let overhead = |target: &Target| {
        scrape(&target.url, TOKEN)
            .map(|metrics| Overhead::of(&metrics))
            .unwrap_or_default()
    };
    report(
        &rows,
        &[
            overhead(&targets[2]),
            overhead(&targets[3]),
            overhead(&targets[4]),
        ],
        seconds,
    )
}

/// Someone with the dashboard open: `GET /ui/state` every second until dropped.
struct Dashboard {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Dashboard {
    fn open(url: &str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, url) = (stop.clone(), url.to_owned());
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = get(&url, "/ui/state", ADMIN_TOKEN);
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        });
        Self { stop }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `GET /metrics` from the gateway at `url`.
fn scrape(url: &str, token: &str) -> Result<String, String> {
    get(url, "/metrics", token)
}

/// `GET path` from the server at `url`, with std's TCP and HTTP/1.0.
fn get(url: &str, path: &str, token: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// What `llm_rotate_overhead_seconds` says: the gateway's own time per request.
#[derive(Debug, Default, PartialEq)]
struct Overhead {
    requests: u64,
    mean_us: f64,
    /// The bucket bound at or under which 99 % of requests fell.
    p99_at_most_us: f64,
}

impl Overhead {
    fn json(&self) -> String {
        format!(
            r#"{{"requests": {}, "mean_us": {:.2}, "p99_at_most_us": {:.0}}}"#,
            self.requests, self.mean_us, self.p99_at_most_us
        )
    }

    fn of(metrics: &str) -> Self {
        const NAME: &str = "llm_rotate_overhead_seconds";
        let value = |suffix: &str| -> Option<f64> {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{NAME}{suffix} ")))
                .and_then(|v| v.trim().parse().ok())
        };
        let (Some(sum), Some(count)) = (value("_sum"), value("_count")) else {
            return Self::default();
        };
        let p99_at_most_us = metrics
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{NAME}_bucket{{le=\"")))
            .filter_map(|rest| rest.split_once("\"} "))
            .filter_map(|(bound, n)| {
                Some((bound.parse::<f64>().ok()?, n.trim().parse::<f64>().ok()?))
            })
            .find(|(_, n)| *n >= 0.99 * count)
            .map_or(f64::NAN, |(bound, _)| bound * 1e6);
        Self {
            requests: count as u64,
            mean_us: if count > 0.0 {
                sum / count * 1e6
            } else {
                f64::NAN
            },
            p99_at_most_us,
        }
    }
}

/// Prints the table and writes `target/bench-gateway.json`.
fn report(rows: &[Row], overheads: &[Overhead; 3], seconds: u32) -> Result<(), String> {
    println!();
    println!("medians of {ROUNDS} runs of {seconds} s per path, taken in turn");
    println!(
        "{:<12} {:<9} {:>10} {:>9} {:>9} {:>9} {:>13}",
        "concurrency", "path", "req/s", "p50 ms", "p90 ms", "p99 ms", "CPU µs/req"
    );
    let mut json_rows = Vec::new();
    for group in rows.chunks(PATHS.len()) {
        let [direct, relay, gateway, operated, translated] = group else {
            continue;
        };
        for row in group {
            let f = row.figures;
            println!(
                "{:<12} {:<9} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>13.1}",
                row.connections,
                row.path,
                f.requests_per_sec,
                f.p50_ms,
                f.p90_ms,
                f.p99_ms,
                row.cpu_us
            );
        }
        let rps = |row: &Row| row.figures.requests_per_sec;
        let ratio = 100.0 * rps(gateway) / rps(direct);
        let relay_ratio = 100.0 * rps(relay) / rps(direct);
        let of_relay = 100.0 * rps(gateway) / rps(relay);
        let translated_of_relay = 100.0 * rps(translated) / rps(relay);
        let added = gateway.figures.p99_ms - direct.figures.p99_ms;
        let relay_added = relay.figures.p99_ms - direct.figures.p99_ms;
        println!(
            "{:<12} gateway {ratio:.1}% of direct req/s (relay {relay_ratio:.1}%; gateway {of_relay:.1}% of relay); p99 added {added:.3} ms (relay {relay_added:.3} ms)",
            gateway.connections
        );
        println!(
            "{:<12} translated (OpenAI client, Anthropic keys) {translated_of_relay:.1}% of relay req/s",
            gateway.connections
        );
        let operated_of_gateway = 100.0 * rps(operated) / rps(gateway);
        println!(
            "{:<12} operated (client limits, cost, OTLP export, dashboard open) {operated_of_gateway:.1}% of gateway req/s",
            gateway.connections
        );
        let figures = |row: &Row| {
            let f = row.figures;
            format!(
                r#"{{"rps": {:.1}, "p50_ms": {:.4}, "p90_ms": {:.4}, "p99_ms": {:.4}, "cpu_us_per_request": {:.2}}}"#,
                f.requests_per_sec, f.p50_ms, f.p90_ms, f.p99_ms, row.cpu_us
            )
        };
        json_rows.push(format!(
            r#"{{"concurrency": {}, "direct": {}, "relay": {}, "gateway": {}, "operated": {}, "translated": {}, "operated_of_gateway_percent": {operated_of_gateway:.1}, "ratio_percent": {ratio:.1}, "relay_ratio_percent": {relay_ratio:.1}, "gateway_of_relay_percent": {of_relay:.1}, "translated_of_relay_percent": {translated_of_relay:.1}, "p99_added_ms": {added:.4}, "relay_p99_added_ms": {relay_added:.4}}}"#,
            gateway.connections,
            figures(direct),
            figures(relay),
            figures(gateway),
            figures(operated),
            figures(translated)
        ));
    }
    for (name, overhead) in [
        ("passthrough", &overheads[0]),
        ("operated", &overheads[1]),
        ("translated", &overheads[2]),
    ] {
        println!(
            "{name} gateway's own time (llm_rotate_overhead_seconds, all {} requests it served): mean {:.1} µs, p99 at most {:.0} µs",
            overhead.requests, overhead.mean_us, overhead.p99_at_most_us
        );
    }
    println!("goal at concurrency 32: gateway >= 60% of direct req/s and >= 95% of relay req/s, p99 added <= 1 ms; overhead mean <= 3 µs passthrough, <= 10 µs more translated; operated >= 90% of gateway req/s, overhead mean <= 5 µs");
    println!("(all servers and wrk share this machine's cores)");
    let out = root().join("target/bench-gateway.json");
    let json = format!(
        r#"{{"runs": [{}], "overhead": {}, "operated_overhead": {}, "translated_overhead": {}}}"#,
        json_rows.join(",\n"),
        overheads[0].json(),
        overheads[1].json(),
        overheads[2].json()
    );
    std::fs::write(&out, json + "\n").map_err(|e| e.to_string())?;
    println!("written to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_middle_run_field_by_field() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        let run = |rps, p99| Figures {
            requests_per_sec: rps,
            p50_ms: 0.1,
            p90_ms: 0.2,
            p99_ms: p99,
        };
        let m = medians(&[run(10.0, 3.0), run(30.0, 1.0), run(20.0, 2.0)]);
        assert_eq!((m.requests_per_sec, m.p99_ms), (20.0, 2.0));
    }

    #[test]
    fn overhead_reads_the_histogram() {
        let metrics = "# TYPE llm_rotate_overhead_seconds histogram
llm_rotate_overhead_seconds_bucket{le=\"0.000005\"} 90
llm_rotate_overhead_seconds_bucket{le=\"0.00001\"} 98
llm_rotate_overhead_seconds_bucket{le=\"0.000025\"} 99
llm_rotate_overhead_seconds_bucket{le=\"+Inf\"} 100
llm_rotate_overhead_seconds_sum 0.0004
llm_rotate_overhead_seconds_count 100
";
        let overhead = Overhead::of(metrics);
        assert_eq!(overhead.requests, 100);
        assert!((overhead.mean_us - 4.0).abs() < 1e-9);
        assert!((overhead.p99_at_most_us - 25.0).abs() < 1e-9);
        assert_eq!(Overhead::of("nothing here"), Overhead::default());
    }

    #[test]
    fn wrk_numbers_read_in_milliseconds() {
        assert_eq!(parse_wrk_number("250.00us"), Some(0.25));
        assert_eq!(parse_wrk_number("1.50ms"), Some(1.5));
        assert_eq!(parse_wrk_number("2.00s"), Some(2000.0));
        assert_eq!(parse_wrk_number("95553.23"), Some(95553.23));
        assert_eq!(parse_wrk_number("fast"), None);
    }
}
