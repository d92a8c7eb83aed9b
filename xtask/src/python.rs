//! The Python package (`crates/llm-rotate-py`): a virtualenv under `target/python` with
//! maturin and the test dependencies, the extension built into it by `maturin develop`
//! (with the testkit's fake upstream compiled in), then pytest and mypy (`ci`) or the
//! overhead benchmark (`bench-python`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{root, run_in};

/// What the tests and the benchmark need in the virtualenv.
const REQUIREMENTS: &[&str] = &[
    "maturin>=1.5,<2",
    "pydantic>=2.5",
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "httpx>=0.27",
    "mypy>=1.8",
    // the vendor SDKs a borrowed key is used with in tests/test_vendor_sdks.py
    "openai>=1.40",
    "anthropic>=0.40",
];

fn venv() -> PathBuf {
    root().join("target").join("python")
}

fn venv_bin(program: &str) -> String {
    venv()
        .join("bin")
        .join(program)
        .to_string_lossy()
        .into_owned()
}

/// Creates the virtualenv and installs the requirements when they are missing.
fn ensure_venv() -> Result<(), String> {
    let python = venv_bin("python");
    if !venv().join("bin").join("python").is_file() {
        run_in(
            &root(),
            "python3",
            &["-m", "venv", &venv().to_string_lossy()],
            &[],
        )?;
    }
    let ready = Command::new(&python)
        .args([
            "-c",
            "import pytest, pytest_asyncio, httpx, pydantic, maturin, mypy, openai, anthropic",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let mut args = vec!["-m", "pip", "install", "--quiet"];
        args.extend_from_slice(REQUIREMENTS);
        run_in(&root(), &python, &args, &[])?;
    }
    Ok(())
}

/// Builds the extension into the virtualenv (`--release` for the benchmark).
fn develop(release: bool) -> Result<(), String> {
    ensure_venv()?;
    let path = format!(
        "{}:{}",
        venv().join("bin").to_string_lossy(),
        std::env::var("PATH").unwrap_or_default()
    );
    let venv = venv().to_string_lossy().into_owned();
    let mut args = vec!["develop", "--quiet", "--features", "testkit"];
    if release {
        args.push("--release");
    }
    run_in(
        &root().join("crates").join("llm-rotate-py"),
        &venv_bin("maturin"),
        &args,
        &[("VIRTUAL_ENV", &venv), ("PATH", &path)],
    )
}

/// The package's pytest suite, mypy over the package and a file of code written
/// against its public names (so stubs that drift from the signatures fail), then the
/// wheel as users get it: built without the testkit, installed into a virtualenv of its
/// own and used from outside the source tree.
pub fn test() -> Result<(), String> {
    develop(false)?;
    let package = root().join("crates").join("llm-rotate-py");
    run_in(
        &package,
        &venv_bin("python"),
        &["-m", "pytest", "-q", "tests"],
        &[],
    )?;
    run_in(
        &package,
        &venv_bin("python"),
        &["-m", "mypy", "python/llm_rotate", "tests/typing_usage.py"],
        &[],
    )?;
    wheel_smoke(&package)
}

/// Builds the wheel, installs it alone into `target/python-wheel` and runs
/// `tests/wheel_smoke.py` there.
fn wheel_smoke(package: &Path) -> Result<(), String> {
    let wheels = root().join("target").join("wheels-ci");
    let _ = std::fs::remove_dir_all(&wheels);
    let out = wheels.to_string_lossy().into_owned();
    run_in(
        package,
        &venv_bin("maturin"),
        &["build", "--quiet", "--out", &out],
        &[],
    )?;
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| format!("cannot list {out}: {e}"))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("maturin wrote no wheel into {out}"))?;
    let env = root().join("target").join("python-wheel");
    let _ = std::fs::remove_dir_all(&env);
    run_in(
        &root(),
        "python3",
        &["-m", "venv", &env.to_string_lossy()],
        &[],
    )?;
    let python = env
        .join("bin")
        .join("python")
        .to_string_lossy()
        .into_owned();
    run_in(
        &root(),
        &python,
        &["-m", "pip", "install", "--quiet", &wheel.to_string_lossy()],
        &[],
    )?;
    // run from target/, so that the source tree's python/ is not on the path
    let smoke = package.join("tests").join("wheel_smoke.py");
    run_in(
        &root().join("target"),
        &python,
        &[&smoke.to_string_lossy()],
        &[],
    )
}

/// `bench-python [rounds]`: the overhead of `await lm.chat()` (and of LiteLLM's Router
/// when it is installed in the virtualenv) over a bare httpx call.
pub fn bench(rounds: Option<&str>) -> Result<(), String> {
    develop(true)?;
    let rounds = rounds.unwrap_or("5");
    run_in(
        &root().join("crates").join("llm-rotate-py"),
        &venv_bin("python"),
        &["bench/bench_python.py", rounds],
        &[],
    )
}
