//! A virtualenv holding the official vendor SDKs (`openai`, `anthropic`, `google-genai`),
//! installed from PyPI under the build directory on first use and shared by every test
//! binary that drives the gateway with a real client.
#![allow(dead_code, clippy::unwrap_used)] // shared by several test binaries

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The packages the virtualenv holds, as pip requirements.
const PACKAGES: [&str; 3] = [
    "openai>=1.40,<3",
    "anthropic>=0.40,<1",
    "google-genai>=1.0,<2",
];

/// The virtualenv's Python, made once per build directory. Tests of one binary run in
/// parallel, so the first caller builds it and the others wait.
pub fn sdk_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vendor-sdk-venv");
    let python = venv.join("bin").join("python");
    let ready = venv.join(".installed");
    let wanted = PACKAGES.join("\n");
    if std::fs::read_to_string(&ready).is_ok_and(|have| have == wanted) {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success(), "python3 -m venv failed");
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .status()
        .unwrap();
    assert!(installed.success(), "pip install of the vendor SDKs failed");
    std::fs::write(&ready, wanted).unwrap();
    python
}

/// Runs `script` (a file beside the tests) with `args` and `envs`, and returns its output.
pub fn run_script(script: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    Command::new(sdk_python())
        .arg(path)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

/// Runs `script` with `args` and `envs` off the async runtime, checks that it passed,
/// and returns the one JSON line it printed.
pub async fn summary(
    script: &'static str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> serde_json::Value {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_script(script, &args, &envs)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}
