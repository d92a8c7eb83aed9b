//! Loading a config: from a registry value or a file (JSON, YAML, TOML), with
//! `LLM_ROTATE_` environment overrides (through figment), `${VAR}` substitution and
//! `use_keys` filtering, then validation.
//!
//! The order is: parse the document; lay the environment over it
//! (`LLM_ROTATE_DEFAULTS__MAX_RETRIES=5` sets `defaults.max_retries`); take `use_keys`
//! (the argument wins over the file's); keep only those keys; replace `${VAR}` in
//! strings; read the models; apply the seed's overrides; validate. Keys left out by
//! `use_keys` are never read, so their variables need not be set.

use std::path::Path;

use figment::providers::{Env, Serialized};
use figment::Figment;
use rotate_core::config::{deserialize_with_path, Overrides};
use rotate_core::{ConfigurationError, LMRotateConfig, StoreBackend, WireApi};
use serde_json::Value;

/// The environment prefix of overrides.
pub const ENV_PREFIX: &str = "LLM_ROTATE_";

const TOP_LEVEL: &[&str] = &[
    "defaults",
    "providers",
    "keys",
    "fallback_chains",
    "state_store",
    "gateway",
    "use_keys",
];

/// Builds a config from a registry (the whole catalogue a team keeps), keeping the keys
/// named in `use_keys`, without touching the global instance.
///
/// ```
/// use llm_rotate::{configure_from_dict, Overrides, Strategy};
///
/// let registry = serde_json::json!({
///     "keys": [
///         {"id": "team-a", "provider": "openai", "value": "sk-test-aaaaaaaaaaaaaaaa"},
///         {"id": "team-b", "provider": "openai", "value": "sk-test-bbbbbbbbbbbbbbbb"}
///     ]
/// });
/// let config = configure_from_dict(registry, ["team-b"], Overrides::default().strategy(Strategy::RoundRobin))?;
/// assert_eq!(config.keys.len(), 1);
/// assert_eq!(config.defaults.selection_strategy, Strategy::RoundRobin);
/// # Ok::<(), llm_rotate::ConfigurationError>(())
/// ```
pub fn configure_from_dict(
    registry: Value,
    use_keys: impl IntoIterator<Item = impl AsRef<str>>,
    overrides: Overrides,
) -> Result<LMRotateConfig, ConfigurationError> {
    let use_keys: Vec<String> = use_keys
        .into_iter()
        .map(|k| k.as_ref().to_owned())
        .collect();
    build(registry, Some(use_keys), &overrides)
}

/// Reads a config file (`.json`, `.yaml`/`.yml` with the `yaml` feature, `.toml` with the
/// `toml` feature). `use_keys` may sit in the file (top-level `use_keys:`) or be given
/// here; given here wins.
pub fn configure_from_file(
    path: impl AsRef<Path>,
    use_keys: Option<&[&str]>,
) -> Result<LMRotateConfig, ConfigurationError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigurationError::new("", format!("cannot read `{}`", path.display())).with_source(e)
    })?;
    let document = parse_document(path, &text)?;
    let use_keys = use_keys.map(|ids| ids.iter().map(|s| (*s).to_owned()).collect());
    build(document, use_keys, &Overrides::default())
}

/// Parses a config document by its file extension.
pub fn parse_document(path: &Path, text: &str) -> Result<Value, ConfigurationError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let shown = path.display();
    match extension.as_str() {
        "json" => serde_json::from_str(text).map_err(|e| {
            let at = format!(" at line {} column {}", e.line(), e.column());
            ConfigurationError::new("", format!("`{shown}` is not valid JSON{at}")).with_source(e)
        }),
        #[cfg(feature = "yaml")]
        "yaml" | "yml" => serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            ConfigurationError::new("", format!("`{shown}` is not valid YAML{at}: {e}"))
        }),
        #[cfg(feature = "toml")]
        "toml" => toml::from_str::<toml::Value>(text)
            .map_err(|e| {
                let at = e
                    .span()
                    .map(|span| {
                        let (line, column) = line_column(text, span.start);
                        format!(" at line {line} column {column}")
                    })
                    .unwrap_or_default();
                ConfigurationError::new(
                    "",
                    format!("`{shown}` is not valid TOML{at}: {}", e.message()),
                )
            })
            .and_then(|v| {
                serde_json::to_value(v)
                    .map_err(|e| ConfigurationError::new("", format!("`{shown}`: {e}")))
            }),
        #[cfg(not(feature = "yaml"))]
        "yaml" | "yml" => Err(ConfigurationError::new(
            "",
            format!("reading `{shown}` needs the `yaml` feature of llm-rotate"),
        )),
        #[cfg(not(feature = "toml"))]
        "toml" => Err(ConfigurationError::new(
            "",
            format!("reading `{shown}` needs the `toml` feature of llm-rotate"),
        )),
        other => Err(ConfigurationError::new(
            "",
            format!(
                "`{shown}`: unknown config format `.{other}` (use .json, .yaml, .yml or .toml)"
            ),
        )),
    }
}

#[cfg(feature = "toml")]
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn build(
    document: Value,
    use_keys: Option<Vec<String>>,
    overrides: &Overrides,
) -> Result<LMRotateConfig, ConfigurationError> {
    if !document.is_object() {
        return Err(ConfigurationError::new(
            "",
            "the config must be a mapping at the top level",
        ));
    }
    let mut document = with_env_overrides(document)?;
    let from_file = take_use_keys(&mut document)?;
    if let Some(ids) = use_keys.or(from_file) {
        keep_keys(&mut document, &ids)?;
    }
    substitute_env(&mut document, &mut String::new())?;
    let mut config: LMRotateConfig = deserialize_with_path(document)?;
    config.apply_overrides(overrides)?;
    config.validate()?;
    check_features(&config)?;
    Ok(config)
}

/// Refuses settings that need a feature this build lacks.
pub(crate) fn check_features(config: &LMRotateConfig) -> Result<(), ConfigurationError> {
    if config.state_store.backend == StoreBackend::Redis && !cfg!(feature = "redis") {
        return Err(ConfigurationError::new(
            "state_store.backend",
            "the redis backend needs llm-rotate's `redis` feature",
        ));
    }
    for (i, key) in config.keys.iter().enumerate() {
        let api = config.provider(&key.provider).and_then(|p| p.api);
        let needs = match api {
            Some(WireApi::Gemini | WireApi::Vertex | WireApi::VertexAnthropic)
                if !cfg!(feature = "google") =>
            {
                "google"
            }
            Some(WireApi::Bedrock) if !cfg!(feature = "bedrock") => "bedrock",
            _ => continue,
        };
        return Err(ConfigurationError::new(
            format!("keys[{i}].provider"),
            format!(
                "provider `{}` speaks the `{}` protocol, which needs llm-rotate's `{needs}` feature",
                key.provider,
                api.map_or("", WireApi::as_str)
            ),
        ));
    }
    Ok(())
}

/// Lays `LLM_ROTATE_…` variables over the document (only the config's own sections, so
/// unrelated variables with the prefix are ignored).
fn with_env_overrides(document: Value) -> Result<Value, ConfigurationError> {
    let env = Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
        let first = key.as_str().split('.').next().unwrap_or("");
        TOP_LEVEL.iter().any(|top| first.eq_ignore_ascii_case(top))
    });
    Figment::from(Serialized::defaults(document))
        .merge(env)
        .extract::<Value>()
        .map_err(|e| {
            let path = e.path.join(".");
            ConfigurationError::new(path, format!("environment override: {}", e.kind))
        })
}

fn take_use_keys(document: &mut Value) -> Result<Option<Vec<String>>, ConfigurationError> {
    let Some(value) = document.as_object_mut().and_then(|o| o.remove("use_keys")) else {
        return Ok(None);
    };
    deserialize_with_path::<Vec<String>>(value)
        .map(Some)
        .map_err(|e| e.within("use_keys"))
}

fn keep_keys(document: &mut Value, ids: &[String]) -> Result<(), ConfigurationError> {
    let keys = match document.get_mut("keys") {
        Some(Value::Array(keys)) => keys,
        Some(_) => return Err(ConfigurationError::new("keys", "`keys` must be a list")),
        None => &mut Vec::new(),
    };
    for (i, key) in keys.iter().enumerate() {
        if key.get("id").is_some_and(|id| !id.is_string()) {
            return Err(ConfigurationError::new(
                format!("keys[{i}].id"),
                "a key's id must be a string",
            ));
        }
    }
    let id_of = |k: &Value| k.get("id").and_then(Value::as_str).map(str::to_owned);
    for (i, id) in ids.iter().enumerate() {
        if !keys
            .iter()
            .any(|k| id_of(k).as_deref() == Some(id.as_str()))
        {
            return Err(ConfigurationError::new(
                format!("use_keys[{i}]"),
                format!("the registry has no key `{id}`"),
            ));
        }
    }
    keys.retain(|k| id_of(k).is_some_and(|id| ids.contains(&id)));
    Ok(())
}

/// Replaces `${VAR}` in every string; `$${` stands for a literal `${`.
fn substitute_env(value: &mut Value, path: &mut String) -> Result<(), ConfigurationError> {
    match value {
        Value::String(s) if s.contains("${") => {
            *s = expand(s).map_err(|var| {
                ConfigurationError::new(
                    path.clone(),
                    format!("environment variable `{var}` is not set"),
                )
            })?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                substitute_env(item, path)?;
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (name, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                substitute_env(item, path)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| name.to_owned())?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_replaces_variables_and_keeps_escapes() {
        std::env::set_var("LLM_ROTATE_UNIT_EXPAND", "v");
        assert_eq!(expand("a-${LLM_ROTATE_UNIT_EXPAND}-b").unwrap(), "a-v-b");
        assert_eq!(expand("$${LITERAL}").unwrap(), "${LITERAL}");
        assert_eq!(
            expand("${LLM_ROTATE_UNIT_UNSET_XYZ}").unwrap_err(),
            "LLM_ROTATE_UNIT_UNSET_XYZ"
        );
        assert_eq!(expand("no vars").unwrap(), "no vars");
    }
}
