//! The package's exceptions and how an engine error becomes one.
//!
//! `LMRotateError` is the root; `ConfigurationError`, `NoAvailableKeyError`,
//! `ProviderError` (a caller's-fault answer, not retried), `ExhaustedError` (every
//! attempt failed) and `StreamError` (a stream broke after yielding content) derive
//! from it. Each instance carries `kind`, `status` and `retry_after` (seconds), and the
//! subclasses what they add (`path`, `model`, `attempts`, …). Messages never hold a key
//! value: the engine's errors name keys by id.

use llm_rotate::{Attempt, LMRotateError as EngineError};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pyo3::create_exception!(
    llm_rotate,
    LMRotateError,
    PyException,
    "The root of every error llm_rotate raises."
);
pyo3::create_exception!(
    llm_rotate,
    ConfigurationError,
    LMRotateError,
    "The configuration is invalid (its `path` says where), or the call cannot be served as configured."
);
pyo3::create_exception!(
    llm_rotate,
    NoAvailableKeyError,
    LMRotateError,
    "No key could serve the call: all cooling down, quarantined or disabled, or none serves the model."
);
pyo3::create_exception!(
    llm_rotate,
    ProviderError,
    LMRotateError,
    "The vendor refused the request itself (a caller's fault); it was not retried."
);
pyo3::create_exception!(
    llm_rotate,
    ExhaustedError,
    LMRotateError,
    "Every allowed attempt failed; `attempts` lists them."
);
pyo3::create_exception!(
    llm_rotate,
    StreamError,
    LMRotateError,
    "A stream failed after it had yielded content."
);

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LMRotateError", py.get_type::<LMRotateError>())?;
    m.add("ConfigurationError", py.get_type::<ConfigurationError>())?;
    m.add("NoAvailableKeyError", py.get_type::<NoAvailableKeyError>())?;
    m.add("ProviderError", py.get_type::<ProviderError>())?;
    m.add("ExhaustedError", py.get_type::<ExhaustedError>())?;
    m.add("StreamError", py.get_type::<StreamError>())?;
    Ok(())
}

/// A `ConfigurationError` with its `path` and `message`.
pub fn configuration(error: &llm_rotate::ConfigurationError) -> PyErr {
    Python::attach(|py| {
        let err = ConfigurationError::new_err(error.to_string());
        let value = err.value(py);
        let _ = value.setattr("path", error.path());
        let _ = value.setattr("message", error.message());
        let _ = value.setattr("kind", "configuration");
        let _ = value.setattr("status", py.None());
        let _ = value.setattr("retry_after", py.None());
        err
    })
}

/// The Python exception for an engine error.
pub fn to_py(error: EngineError) -> PyErr {
    if let EngineError::Configuration(config) = &error {
        return configuration(config);
    }
    Python::attach(|py| {
        let text = error.to_string();
        let err = match &error {
            EngineError::NoAvailableKey(_) => NoAvailableKeyError::new_err(text),
            EngineError::Provider(_) => ProviderError::new_err(text),
            EngineError::Exhausted { .. } => ExhaustedError::new_err(text),
            EngineError::Stream(_) => StreamError::new_err(text),
            _ => LMRotateError::new_err(text),
        };
        let value = err.value(py);
        let _ = value.setattr("kind", error.kind().as_str());
        let _ = value.setattr("status", error.status());
        let _ = value.setattr("retry_after", error.retry_after().map(|d| d.as_secs_f64()));
        match &error {
            EngineError::NoAvailableKey(e) => {
                let _ = value.setattr("model", e.model.as_str());
                let _ = value.setattr("providers", e.providers.clone());
                let _ = value.setattr("retry_in", e.retry_in.map(|d| d.as_secs_f64()));
            }
            EngineError::Exhausted { attempts } => {
                if let Ok(list) = attempts_list(py, attempts) {
                    let _ = value.setattr("attempts", list);
                }
            }
            EngineError::Provider(e) | EngineError::Stream(e) => {
                let _ = value.setattr("provider", e.provider.as_str());
                let _ = value.setattr("key_id", e.key_id.as_str());
            }
            _ => {}
        }
        err
    })
}

/// The attempts of an exhausted call, as dicts.
fn attempts_list<'py>(py: Python<'py>, attempts: &[Attempt]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for attempt in attempts {
        let entry = PyDict::new(py);
        entry.set_item("provider", attempt.provider.as_str())?;
        entry.set_item("key_id", attempt.key_id.as_str())?;
        entry.set_item("model", attempt.model.as_str())?;
        entry.set_item("kind", attempt.error.kind.as_str())?;
        entry.set_item("status", attempt.error.status)?;
        entry.set_item("message", attempt.error.message.as_str())?;
        list.append(entry)?;
    }
    Ok(list)
}
