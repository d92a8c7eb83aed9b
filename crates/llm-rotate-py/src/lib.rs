//! The native half of the `llm_rotate` Python package (`llm_rotate._native`).
//!
//! The package is the project's original API reference, in Python, running on the Rust
//! engine: the pure-Python half (`python/llm_rotate`) holds the pydantic config models,
//! the `configure`/`lm` singleton, `acquire` as an async context manager and the
//! translation of OpenAI-style messages and tools; this half holds the engine itself.
//! Every call runs on one Tokio runtime (pyo3-async-runtimes') with the GIL released,
//! and hands asyncio a future at once (see `src/bridge.rs`, which also keeps engine
//! threads out of Python while the interpreter exits). Build it with maturin (`pyproject.toml` beside
//! this crate), not with cargo alone.

mod bridge;
mod config;
mod convert;
mod engine;
mod errors;
mod lease;
mod stream;
#[cfg(feature = "testkit")]
mod testing;
mod types;

use pyo3::prelude::*;

/// The config `configure` and `configure_from_dict` describe, as a dict (credentials in
/// the clear, for the pydantic models): exactly one of `config` (a dict) and `registry`
/// (with `use_keys`), the overrides applied, every rule checked.
#[pyfunction]
#[pyo3(signature = (use_keys=None, registry=None, config=None, strategy=None, priorities=None, fallback_chains=None))]
fn prepare_config<'py>(
    py: Python<'py>,
    use_keys: Option<Vec<String>>,
    registry: Option<&Bound<'py, PyAny>>,
    config: Option<&Bound<'py, PyAny>>,
    strategy: Option<&str>,
    priorities: Option<&Bound<'py, PyAny>>,
    fallback_chains: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let overrides = config::overrides(strategy, priorities, fallback_chains)?;
    let options = llm_rotate::ConfigureOptions {
        use_keys,
        registry: registry
            .filter(|r| !r.is_none())
            .map(|r| convert::read(r, "registry"))
            .transpose()?,
        config: config
            .filter(|c| !c.is_none())
            .map(config::from_python)
            .transpose()?,
        strategy: overrides.strategy,
        priorities: overrides.priorities,
        fallback_chains: overrides.fallback_chains,
    };
    let built = options
        .into_config()
        .map_err(|e| errors::configuration(&e))?;
    config::to_python_revealed(py, &built)
}

/// Reads a config file (JSON, YAML or TOML) into an `LMRotateConfig` dict.
#[pyfunction]
#[pyo3(signature = (path, use_keys=None))]
fn load_config_file<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    use_keys: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyAny>> {
    let ids: Option<Vec<&str>> = use_keys
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    let built = llm_rotate::configure_from_file(&path, ids.as_deref())
        .map_err(|e| errors::configuration(&e))?;
    config::to_python_revealed(py, &built)
}

/// A Redis URL with its password masked, for reprs.
#[pyfunction]
fn redact_url(url: &str) -> String {
    llm_rotate::core::config::redact_url_password(url)
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", llm_rotate::VERSION)?;
    errors::register(m)?;
    bridge::register(m)?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<types::ChatResponse>()?;
    m.add_class::<types::StreamChunk>()?;
    m.add_class::<types::Usage>()?;
    m.add_class::<types::ToolCall>()?;
    m.add_class::<types::ToolCallDelta>()?;
    m.add_class::<stream::ChatStream>()?;
    m.add_class::<lease::AcquireContext>()?;
    m.add_function(wrap_pyfunction!(prepare_config, m)?)?;
    m.add_function(wrap_pyfunction!(load_config_file, m)?)?;
    m.add_function(wrap_pyfunction!(redact_url, m)?)?;
    #[cfg(feature = "testkit")]
    testing::register(m)?;
    Ok(())
}
