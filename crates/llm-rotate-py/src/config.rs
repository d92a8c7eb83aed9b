//! Configs across the language boundary: a dict (the pydantic model's dump, or a
//! registry) becomes the engine's `LMRotateConfig`, and a config the engine built
//! (`configure_from_dict`, `configure_from_file`) comes back as a dict the pydantic
//! models read, credentials included: the engine's own serde writes them as
//! `[redacted]`, so they are put back here, and the Python models keep them in
//! `SecretStr`s that never print.

use std::collections::HashMap;

use llm_rotate::{FallbackEntry, LMRotateConfig, Overrides, Strategy};
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::read;
use crate::errors;
use crate::types::to_python;

/// A dict as the engine's config.
pub fn from_python(obj: &Bound<'_, PyAny>) -> PyResult<LMRotateConfig> {
    let value: Value = read(obj, "config")?;
    LMRotateConfig::from_value(value).map_err(|e| errors::configuration(&e))
}

/// The engine's config as a dict, credentials in the clear.
pub fn to_python_revealed<'py>(
    py: Python<'py>,
    config: &LMRotateConfig,
) -> PyResult<Bound<'py, PyAny>> {
    let mut value = serde_json::to_value(config)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    if let Some(keys) = value.get_mut("keys").and_then(Value::as_array_mut) {
        for (shown, key) in keys.iter_mut().zip(&config.keys) {
            if let (Some(slot), Some(secret)) = (shown.get_mut("value"), &key.value) {
                *slot = Value::String(secret.expose().to_owned());
            }
        }
    }
    if let Some(providers) = value.get_mut("providers").and_then(Value::as_object_mut) {
        for (name, shown) in providers.iter_mut() {
            let (Some(headers), Some(provider)) =
                (shown.get_mut("headers"), config.providers.get(name))
            else {
                continue;
            };
            *headers = serde_json::to_value(&provider.headers).unwrap_or_default();
        }
    }
    to_python(py, &value)
}

/// The reference's `strategy`, `priorities` and `fallback_chains` arguments.
pub fn overrides(
    strategy: Option<&str>,
    priorities: Option<&Bound<'_, PyAny>>,
    fallback_chains: Option<&Bound<'_, PyAny>>,
) -> PyResult<Overrides> {
    let strategy = strategy
        .map(|s| {
            s.parse::<Strategy>().map_err(|_| {
                errors::configuration(&llm_rotate::ConfigurationError::new(
                    "strategy",
                    format!(
                        "unknown strategy `{s}`; expected round_robin, priority, weighted or health_aware"
                    ),
                ))
            })
        })
        .transpose()?;
    let priorities: Option<HashMap<String, i64>> = priorities
        .filter(|p| !p.is_none())
        .map(|p| read(p, "priorities"))
        .transpose()?;
    let fallback_chains: Option<HashMap<String, Vec<FallbackEntry>>> = fallback_chains
        .filter(|c| !c.is_none())
        .map(|c| read(c, "fallback_chains"))
        .transpose()?;
    Ok(Overrides {
        strategy,
        priorities,
        fallback_chains,
    })
}
