//! The instruction-count bench: `benches/instructions.rs` of the facade run under
//! callgrind by iai-callgrind, whose runner is installed under `target/tools` when it
//! is missing. Counts repeat run after run whatever else the machine is doing, so a
//! change's cost shows as a number, beside criterion's noisier medians.

use std::path::Path;
use std::process::Command;

/// The iai-callgrind version the bench is built with (runner and library must match).
const RUNNER_VERSION: &str = "0.16.1";

/// Runs the bench and returns `(benchmark id, instructions)` in order.
pub fn measure(root: &Path) -> Result<Vec<(String, u64)>, String> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Err("valgrind is not installed".to_owned());
    }
    let tools = root.join("target").join("tools");
    let runner = tools.join("bin").join("iai-callgrind-runner");
    if !runner.exists() {
        let status = Command::new("cargo")
            .args(["install", "--locked", "--root"])
            .arg(&tools)
            .args(["iai-callgrind-runner", "--version", RUNNER_VERSION])
            .status()
            .map_err(|e| format!("cannot run cargo install: {e}"))?;
        if !status.success() {
            return Err(format!("installing iai-callgrind-runner failed ({status})"));
        }
    }
    let output = Command::new("cargo")
        .args(["bench", "-p", "llm-rotate", "--bench", "instructions"])
        .env("IAI_CALLGRIND_RUNNER", &runner)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run the instruction bench: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the instruction bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&output.stdout)))
}

/// Reads iai-callgrind's report: a benchmark line, then `  Instructions: N|…`.
fn parse(report: &str) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    let mut current: Option<String> = None;
    for line in report.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("Instructions:") {
            let number = rest.trim().split(['|', ' ']).next().unwrap_or("");
            if let (Some(id), Ok(count)) = (current.take(), number.parse()) {
                counts.push((id, count));
            }
        } else if !line.starts_with(' ') && line.contains("::") {
            let id = line.split_whitespace().collect::<Vec<_>>();
            let name = id.first().and_then(|p| p.rsplit("::").next()).unwrap_or("");
            let case = id.get(1).and_then(|c| c.split(':').next()).unwrap_or("");
            current = Some(format!("{name}/{case}"));
        }
    }
    counts
}

/// The derived figures: what the engine adds per call, and selection's growth.
pub fn figures(counts: &[(String, u64)]) -> Vec<(String, String, &'static str)> {
    let get = |id: &str| counts.iter().find(|(i, _)| i == id).map(|(_, c)| *c);
    let mut out = Vec::new();
    if let (Some(chat), Some(direct)) = (
        get("engine_chat/four_keys"),
        get("provider_direct/same_call"),
    ) {
        out.push((
            "engine per call (instructions, no network)".to_owned(),
            chat.saturating_sub(direct).to_string(),
            "(repeatable)",
        ));
    }
    if let (Some(small), Some(large)) = (
        get("select_health_aware/keys_10"),
        get("select_health_aware/keys_100000"),
    ) {
        out.push((
            "selection, 100k keys / 10 keys (instructions)".to_owned(),
            format!("{:.2}x", large as f64 / small.max(1) as f64),
            "flat",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report() {
        let report = "instructions::per_call::engine_chat four_keys:warm_engine(4)\n  Instructions:                        9711|21418                (-54.6596%) [-2.20554x]\n  L1 Hits:     1|N/A\ninstructions::per_call::provider_direct same_call:warm_provider()\n  Instructions:                        4507|N/A                  (*********)\n";
        let counts = parse(report);
        assert_eq!(
            counts,
            [
                ("engine_chat/four_keys".to_owned(), 9711),
                ("provider_direct/same_call".to_owned(), 4507)
            ]
        );
        assert_eq!(figures(&counts)[0].1, "5204");
    }
}
