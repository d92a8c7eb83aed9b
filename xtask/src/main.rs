//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: exactly what CI runs: format check, clippy with warnings denied, every test,
//!   and the docs with warnings denied;
//! - `bench`: the criterion benches, then a table of their medians (also written as
//!   JSON to `target/bench-summary.json`);
//! - `deny`: `cargo deny check` for licenses, bans and sources (needs cargo-deny).
//!
//! It depends on nothing but the standard library.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("deny") => run(
            "cargo",
            &["deny", "check", "licenses", "bans", "sources"],
            &[],
        ),
        _ => {
            eprintln!("usage: cargo xtask <ci | bench [filter] | deny>");
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

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn ci() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run("cargo", &["test", "--workspace", "--all-features"], &[])?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// One benchmark's median, read from criterion's estimates.
struct Median {
    id: String,
    nanos: f64,
}

fn bench(filter: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--workspace", "--all-features", "--"];
    args.extend(filter.iter().map(String::as_str));
    run("cargo", &args, &[])?;
    let criterion = root().join("target").join("criterion");
    let mut medians = Vec::new();
    collect_medians(&criterion, &criterion, &mut medians);
    medians.sort_by(|a, b| a.id.cmp(&b.id));
    println!("\n{:<50} {:>14}", "benchmark", "median");
    for m in &medians {
        println!("{:<50} {:>14}", m.id, format_nanos(m.nanos));
    }
    let json: Vec<String> = medians
        .iter()
        .map(|m| format!("  {{\"id\": \"{}\", \"median_ns\": {:.1}}}", m.id, m.nanos))
        .collect();
    let out = root().join("target").join("bench-summary.json");
    std::fs::write(&out, format!("[\n{}\n]\n", json.join(",\n"))).map_err(|e| e.to_string())?;
    println!("\nwritten to {}", out.display());
    Ok(())
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
                out.push(Median { id, nanos });
            }
        } else if path.is_dir() {
            collect_medians(base, &path, out);
        }
    }
}

/// Reads `"median":{..."point_estimate":X` from criterion's estimates.json.
fn median_of(text: &str) -> Option<f64> {
    let median = &text[text.find("\"median\"")?..];
    let point = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = point.find([',', '}'])?;
    point[..end].trim().parse().ok()
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
