//! The validation rules of a config, each failure a [`ConfigurationError`] with the
//! path of what is wrong (`keys[2].provider`).

use std::collections::{BTreeMap, HashMap};

use super::{KeyConfig, LMRotateConfig, WireApi};
use crate::catalogue;
use crate::error::ConfigurationError;
use crate::secret::Secret;
use crate::strategy::Strategy;

use super::explain::suggestion;

/// The longest duration a setting may name: one year, in seconds.
pub const MAX_SECONDS: u64 = 365 * 86_400;

/// The most retries a setting may allow.
pub const MAX_RETRIES: u32 = 100;

/// The largest weight a key may have.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// Refuses durations over [`MAX_SECONDS`] and retry counts over [`MAX_RETRIES`], naming
/// the field under `section`.
fn check_limits(
    section: &str,
    seconds: &[(&str, Option<u64>)],
    retries: &[(&str, Option<u32>)],
) -> Result<(), ConfigurationError> {
    for (name, value) in seconds {
        if value.is_some_and(|v| v > MAX_SECONDS) {
            return Err(ConfigurationError::new(
                format!("{section}.{name}"),
                format!("must be at most {MAX_SECONDS} (one year)"),
            ));
        }
    }
    for (name, value) in retries {
        if value.is_some_and(|v| v > MAX_RETRIES) {
            return Err(ConfigurationError::new(
                format!("{section}.{name}"),
                format!("must be at most {MAX_RETRIES}"),
            ));
        }
    }
    Ok(())
}

impl LMRotateConfig {
    /// Checks every validation rule; the first failure is returned with its path.
    pub fn validate(&self) -> Result<(), ConfigurationError> {
        self.validate_with(&[])
    }

    /// Like [`validate`](Self::validate), with `custom` naming providers whose adapters
    /// are registered in code (they need no `api` and count as known).
    pub fn validate_with(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        self.validate_defaults()?;
        self.validate_providers(custom)?;
        self.validate_keys(custom)?;
        self.validate_weights()?;
        self.validate_chains(custom)?;
        crate::price::check_prices(&self.prices)?;
        if self.state_store.redis_namespace.is_empty() {
            return Err(ConfigurationError::new(
                "state_store.redis_namespace",
                "the namespace must not be empty",
            ));
        }
        Ok(())
    }

    fn validate_defaults(&self) -> Result<(), ConfigurationError> {
        let d = &self.defaults;
        if d.call_timeout_seconds == Some(0) {
            return Err(ConfigurationError::new(
                "defaults.call_timeout_seconds",
                "must be at least 1 (leave it out for no deadline)",
            ));
        }
        if d.max_consecutive_failures == 0 {
            return Err(ConfigurationError::new(
                "defaults.max_consecutive_failures",
                "must be at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&d.max_transient_ejection) {
            return Err(ConfigurationError::new(
                "defaults.max_transient_ejection",
                format!(
                    "must be a share between 0 and 1, not {}",
                    d.max_transient_ejection
                ),
            ));
        }
        check_limits(
            "defaults",
            &[
                ("cooldown_seconds", Some(d.cooldown_seconds)),
                ("quarantine_seconds", Some(d.quarantine_seconds)),
                ("request_timeout_seconds", Some(d.request_timeout_seconds)),
                (
                    "stream_idle_timeout_seconds",
                    Some(d.stream_idle_timeout_seconds),
                ),
                ("call_timeout_seconds", d.call_timeout_seconds),
            ],
            &[("max_retries", Some(d.max_retries))],
        )
    }

    fn validate_providers(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        for (name, provider) in &self.providers {
            let path = format!("providers.{name}");
            if catalogue::builtin(name).is_none()
                && provider.api.is_none()
                && !custom.contains(&name.as_str())
            {
                return Err(ConfigurationError::new(
                    format!("{path}.api"),
                    "a custom provider must say which wire protocol it speaks (openai, anthropic, gemini, vertex)",
                ));
            }
            if provider.max_consecutive_failures == Some(0) {
                return Err(ConfigurationError::new(
                    format!("{path}.max_consecutive_failures"),
                    "must be at least 1",
                ));
            }
            if let Some(url) = &provider.base_url {
                check_base_url(url)
                    .map_err(|m| ConfigurationError::new(format!("{path}.base_url"), m))?;
            }
            check_limits(
                &path,
                &[
                    ("timeout_seconds", provider.timeout_seconds),
                    (
                        "stream_idle_timeout_seconds",
                        provider.stream_idle_timeout_seconds,
                    ),
                    ("cooldown_seconds", provider.cooldown_seconds),
                    ("quarantine_seconds", provider.quarantine_seconds),
                ],
                &[("max_retries", provider.max_retries)],
            )?;
        }
        Ok(())
    }

    fn validate_keys(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, key) in self.keys.iter().enumerate() {
            let path = format!("keys[{i}]");
            if key.id.trim().is_empty() {
                return Err(ConfigurationError::new(
                    format!("{path}.id"),
                    "the id must not be empty",
                ));
            }
            if let Some(first) = seen.insert(key.id.as_str(), i) {
                return Err(ConfigurationError::new(
                    format!("{path}.id"),
                    format!("duplicate key id `{}` (also keys[{first}])", key.id),
                ));
            }
            let provider = self.provider(&key.provider);
            if provider.is_none() && !custom.contains(&key.provider.as_str()) {
                return Err(self.unknown_provider(format!("{path}.provider"), &key.provider));
            }
            if key.weight > MAX_WEIGHT {
                return Err(ConfigurationError::new(
                    format!("{path}.weight"),
                    format!("must be at most {MAX_WEIGHT}"),
                ));
            }
            if key
                .quota_group
                .as_deref()
                .is_some_and(|g| g.trim().is_empty() || g.len() > 256)
            {
                return Err(ConfigurationError::new(
                    format!("{path}.quota_group"),
                    "a quota group is a non-empty name of at most 256 bytes",
                ));
            }
            let secret = key.resolve_secret().map_err(|e| e.within(&path))?;
            if let Some(url) = &key.base_url {
                check_base_url(url)
                    .map_err(|m| ConfigurationError::new(format!("{path}.base_url"), m))?;
            }
            let api = provider.and_then(|p| p.api);
            if api.is_some_and(WireApi::is_vertex) {
                check_vertex_key(key, &secret).map_err(|e| e.within(&path))?;
            }
            check_credential_shape(api, key, &secret).map_err(|e| e.within(&path))?;
        }
        Ok(())
    }

    fn validate_weights(&self) -> Result<(), ConfigurationError> {
        if self.defaults.selection_strategy != Strategy::Weighted {
            return Ok(());
        }
        let mut by_provider: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for key in self.keys.iter().filter(|k| k.enabled) {
            let entry = by_provider.entry(key.provider.as_str()).or_default();
            entry.0 += 1;
            if key.weight == 0 {
                entry.1 += 1;
            }
        }
        for (provider, (total, zero)) in by_provider {
            if total > 0 && total == zero {
                let first = self
                    .keys
                    .iter()
                    .position(|k| k.provider == provider)
                    .unwrap_or(0);
                return Err(ConfigurationError::new(
                    format!("keys[{first}].weight"),
                    format!("every key of provider `{provider}` has weight 0 under the weighted strategy"),
                ));
            }
        }
        Ok(())
    }

    fn validate_chains(&self, custom: &[&str]) -> Result<(), ConfigurationError> {
        for (name, chain) in &self.fallback_chains {
            if chain.is_empty() {
                return Err(ConfigurationError::new(
                    format!("fallback_chains.{name}"),
                    "a chain needs at least one entry",
                ));
            }
            for (i, entry) in chain.iter().enumerate() {
                if !self.has_provider(&entry.provider) && !custom.contains(&entry.provider.as_str())
                {
                    let path = format!("fallback_chains.{name}[{i}].provider");
                    return Err(self.unknown_provider(path, &entry.provider));
                }
            }
        }
        Ok(())
    }

    /// `name` names no provider; the nearest one that exists is suggested.
    fn unknown_provider(&self, path: String, name: &str) -> ConfigurationError {
        let hint = suggestion(name, self.provider_names());
        ConfigurationError::new(path, format!("unknown provider `{name}`{hint}"))
    }

    fn provider_names(&self) -> impl Iterator<Item = &str> {
        catalogue::BUILTINS
            .iter()
            .map(|b| b.name)
            .chain(self.providers.keys().map(String::as_str))
    }
}

/// The string fields `fields` of a key value written as a JSON object, checked (the
/// message names `what` the JSON stands for).
fn check_json_fields(
    secret: &Secret,
    what: &str,
    fields: &[&str],
) -> Result<(), ConfigurationError> {
    let value: Option<serde_json::Value> = serde_json::from_str(secret.expose()).ok();
    let complete = value.as_ref().is_some_and(|v| {
        fields.iter().all(|f| {
            v.get(f)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|s| !s.is_empty())
        })
    });
    if complete {
        return Ok(());
    }
    let named: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    Err(ConfigurationError::new(
        "value",
        format!(
            "{what} written as JSON needs the string fields {}",
            named.join(", ")
        ),
    ))
}

/// Bedrock keys written as JSON are AWS credentials and name a region that can be put in
/// a host name; Azure keys with `metadata.auth` name `entra`, and as JSON are a service
/// principal.
fn check_credential_shape(
    api: Option<WireApi>,
    key: &KeyConfig,
    secret: &Secret,
) -> Result<(), ConfigurationError> {
    let is_json = secret.expose().trim_start().starts_with('{');
    match api {
        Some(WireApi::Bedrock) => {
            if is_json {
                check_json_fields(secret, "a Bedrock key", &["access_key_id", "secret_access_key"])?;
            }
            let region_ok = key
                .metadata
                .get("region")
                .is_none_or(|r| crate::catalogue::is_region_name(r));
            if !region_ok {
                return Err(ConfigurationError::new(
                    "metadata.region",
                    "a region name such as `us-east-1`",
                ));
            }
        }
        Some(WireApi::Openai) => match key.metadata.get("auth").map(String::as_str) {
            None => {}
            Some("entra") if is_json => check_json_fields(
                secret,
                "an Entra service principal",
                &["tenant_id", "client_id", "client_secret"],
            )?,
            Some("entra") => {}
            Some(other) => {
                return Err(ConfigurationError::new(
                    "metadata.auth",
                    format!("`{other}` is not a way to authenticate; the one known is `entra` (an Entra ID token or service principal)"),
                ))
            }
        },
        _ => {}
    }
    Ok(())
}

fn check_vertex_key(key: &KeyConfig, secret: &Secret) -> Result<(), ConfigurationError> {
    if key.metadata.contains_key("project_id")
        || key.metadata.get("mode").map(String::as_str) == Some("express")
    {
        return Ok(());
    }
    let from_value = serde_json::from_str::<serde_json::Value>(secret.expose())
        .ok()
        .and_then(|v| {
            v.get("project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    let from_file = key
        .metadata
        .get("credentials_file")
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| {
            v.get("project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    if from_value.is_some() || from_file.is_some() {
        return Ok(());
    }
    Err(ConfigurationError::new(
        "metadata.project_id",
        "a Vertex key needs `metadata.project_id` (or a service-account JSON that has one, or `metadata.mode: express` for an API key)",
    ))
}

/// Checks that `url` is an absolute http(s) URL with a host; `{placeholders}` are allowed.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}` contains white space"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
        _ => (host_port, None),
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!("`{url}` has an invalid port `{port}`"));
        }
    }
    Ok(())
}
