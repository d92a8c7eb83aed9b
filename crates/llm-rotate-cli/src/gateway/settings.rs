//! The gateway's own settings: the `gateway:` section of the config file. The library
//! keeps that section as written ([`llm_rotate::ForeignSection`]); the binary reads and
//! checks it here, and resolves its tokens once per load.

use std::sync::Arc;

use llm_rotate::core::config::deserialize_with_path;
use llm_rotate::{ConfigurationError, LMRotateConfig, Secret, SecretSource};
use serde::{Deserialize, Serialize};

pub use super::clients::{Client, ClientConfig};

/// The `gateway:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where to listen when `--listen` is not given.
    pub listen: String,
    /// Tokens clients send as `Authorization: Bearer …` (or `x-goog-api-key`, `api-key`).
    /// Empty: no authentication (only sensible on a private interface).
    pub tokens: Vec<SecretSource>,
    /// Tokens allowed to call `POST /admin/reload` (gateway tokens are not).
    pub admin_tokens: Vec<SecretSource>,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: u64,
    /// How long a client may take to send its request head.
    pub header_read_timeout_seconds: u64,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout_seconds: u64,
    /// Requests served at once; past it a request gets 503 with `Retry-After` (`/health`
    /// and `/metrics` are always served).
    pub max_in_flight: u64,
    /// The request header whose value is a call's prompt-cache affinity; when unset,
    /// Claude Code's `x-claude-code-session-id` and Codex's `session_id`.
    pub affinity_header: Option<String>,
    /// Clients with their own tokens, allowed models and limits.
    pub clients: Vec<ClientConfig>,
    /// An OpenTelemetry collector's base URL (`http://collector:4318`) to export spans
    /// to over OTLP/HTTP (needs the `otel` feature); unset: `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otel_endpoint: Option<String>,
}

/// The session headers read for affinity when `affinity_header` is not set.
pub const DEFAULT_AFFINITY_HEADERS: [&str; 2] = ["x-claude-code-session-id", "session_id"];

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            tokens: Vec::new(),
            admin_tokens: Vec::new(),
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout_seconds: 10,
            drain_timeout_seconds: 30,
            max_in_flight: 4096,
            affinity_header: None,
            clients: Vec::new(),
            otel_endpoint: None,
        }
    }
}

/// What a request needs from the settings: tokens resolved, the body limit.
pub struct Settings {
    pub tokens: Vec<Secret>,
    /// Clients with their own tokens and limits.
    pub clients: Vec<Arc<Client>>,
    pub admin_tokens: Vec<Secret>,
    pub max_body_bytes: u64,
    pub max_in_flight: u64,
    /// The headers a call's affinity is read from, in order.
    pub affinity_headers: Vec<http::HeaderName>,
}

/// The header whose value (seconds, decimals allowed) is how long a call may wait for
/// a key to come back.
pub const MAX_WAIT_HEADER: &str = "x-llm-rotate-max-wait";

/// What a request asks of its call: an affinity and a wait (from its headers), and
/// the client its token names.
#[derive(Debug, Default)]
pub struct CallHints {
    /// The value of the first affinity header present (the engine keeps only its hash).
    pub affinity: Option<String>,
    /// The `x-llm-rotate-max-wait` header's wait.
    pub max_wait: Option<std::time::Duration>,
    /// The client whose token the request carried.
    pub client: Option<Arc<Client>>,
}

impl CallHints {
    /// Refuses a `model` the client may not call; else sets the call's client, its wait,
    /// and its affinity when a header gave one (a header wins over a body's
    /// `prompt_cache_key` or `metadata.user_id`).
    pub fn apply(
        self,
        options: &mut llm_rotate::ChatOptions,
        model: &str,
    ) -> Result<(), crate::gateway::http::ApiError> {
        options.client = self.client_for(model)?;
        options.max_wait = self.max_wait.or(options.max_wait);
        if self.affinity.is_some() {
            options.affinity = self.affinity;
        }
        Ok(())
    }

    /// The id usage is counted under, once `model` is allowed.
    pub fn client_for(
        &self,
        model: &str,
    ) -> Result<Option<String>, crate::gateway::http::ApiError> {
        match &self.client {
            Some(client) => {
                client.allow_model(model)?;
                Ok(Some(client.id.to_string()))
            }
            None => Ok(None),
        }
    }
}

impl Settings {
    /// What `headers` ask of the call; a wait that is not a number of seconds is a 400.
    pub fn hints(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<CallHints, crate::gateway::http::ApiError> {
        let affinity = self.affinity_headers.iter().find_map(|name| {
            let value = headers.get(name)?.to_str().ok()?.trim();
            (!value.is_empty()).then(|| value.to_owned())
        });
        let max_wait = match headers.get(MAX_WAIT_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| {
                        crate::gateway::http::ApiError::bad_request(format!(
                            "The `{MAX_WAIT_HEADER}` header must be a number of seconds."
                        ))
                    })?,
            ),
        };
        Ok(CallHints {
            affinity,
            max_wait,
            client: None,
        })
    }
}

impl GatewayConfig {
    /// The section of `config` (defaults when it has none), with paths like
    /// `gateway.listen` in errors.
    pub fn of(config: &LMRotateConfig) -> Result<Self, ConfigurationError> {
        match &config.gateway {
            None => Ok(Self::default()),
            Some(section) => {
                deserialize_with_path(section.value().clone()).map_err(|e| e.within("gateway"))
            }
        }
    }

    /// Checks every setting and resolves the tokens (once), giving what requests read.
    pub fn resolve(&self) -> Result<Settings, ConfigurationError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigurationError::new(
                "gateway.listen",
                format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
            ));
        }
        for (name, value) in [
            ("max_in_flight", self.max_in_flight),
            ("max_body_bytes", self.max_body_bytes),
        ] {
            if value == 0 {
                return Err(ConfigurationError::new(
                    format!("gateway.{name}"),
                    "must be above 0",
                ));
            }
        }
        let affinity_headers = match &self.affinity_header {
            Some(name) => vec![
                http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                    ConfigurationError::new(
                        "gateway.affinity_header",
                        format!("`{name}` is not an HTTP header name"),
                    )
                })?,
            ],
            None => DEFAULT_AFFINITY_HEADERS
                .iter()
                .map(|name| http::HeaderName::from_static(name))
                .collect(),
        };
        if let Some(endpoint) = &self.otel_endpoint {
            let valid = endpoint.parse::<http::Uri>().is_ok_and(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
            });
            if !valid {
                return Err(ConfigurationError::new(
                    "gateway.otel_endpoint",
                    format!("`{endpoint}` is not an http(s) URL like http://localhost:4318"),
                ));
            }
        }
        let tokens = resolve_tokens("tokens", &self.tokens)?;
        Ok(Settings {
            affinity_headers,
            clients: super::clients::resolve(&self.clients, &tokens)?,
            tokens,
            admin_tokens: resolve_tokens("admin_tokens", &self.admin_tokens)?,
            max_body_bytes: self.max_body_bytes,
            max_in_flight: self.max_in_flight,
        })
    }
}

fn resolve_tokens(name: &str, list: &[SecretSource]) -> Result<Vec<Secret>, ConfigurationError> {
    list.iter()
        .enumerate()
        .map(|(i, token)| {
            let path = format!("gateway.{name}[{i}]");
            let secret = token.resolve().map_err(|e| e.within(&path))?;
            if secret.expose().trim().is_empty() {
                return Err(ConfigurationError::new(path, "a token must not be empty"));
            }
            Ok(secret)
        })
        .collect()
}

/// The section and its resolved settings, checked together.
pub fn load(config: &LMRotateConfig) -> Result<(GatewayConfig, Settings), ConfigurationError> {
    let gateway = GatewayConfig::of(config)?;
    let settings = gateway.resolve()?;
    Ok((gateway, settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(section: serde_json::Value) -> ConfigurationError {
        let config = LMRotateConfig::from_value(json!({ "gateway": section })).unwrap();
        load(&config).err().expect("the section should be refused")
    }

    #[test]
    fn gateway_settings_are_checked() {
        assert_eq!(err(json!({"listen": "localhost"})).path(), "gateway.listen");
        assert_eq!(
            err(json!({"tokens": ["ok", ""]})).path(),
            "gateway.tokens[1]"
        );
        let e = err(json!({"admin_tokens": [{"env": "LLM_ROTATE_UNIT_TEST_UNSET_VAR"}]}));
        assert_eq!(e.path(), "gateway.admin_tokens[0].env");
        assert_eq!(
            err(json!({"max_body_bytes": 0})).path(),
            "gateway.max_body_bytes"
        );
        assert_eq!(
            err(json!({"affinity_header": "not a header"})).path(),
            "gateway.affinity_header"
        );
        assert_eq!(
            err(json!({"otel_endpoint": "collector:4318"})).path(),
            "gateway.otel_endpoint"
        );
        let e = err(json!({"tokens": ["a"], "tokenz": 1}));
        assert_eq!(e.path(), "gateway.tokenz");
        assert!(e.message().contains("did you mean `tokens`?"), "{e}");
        let e = err(json!({"max_body_bytes": "sk-secret-value-123"}));
        assert!(!e.to_string().contains("sk-secret"), "{e}");
    }

    #[test]
    fn tokens_resolve_once_and_never_print() {
        let config = LMRotateConfig::from_value(
            json!({"gateway": {"tokens": ["gw-secret-token-1", {"env": "PATH"}]}}),
        )
        .unwrap();
        let (gateway, settings) = load(&config).unwrap();
        assert_eq!(settings.tokens.len(), 2);
        assert_eq!(settings.tokens[0].expose(), "gw-secret-token-1");
        assert!(!format!("{gateway:?}").contains("gw-secret-token-1"));
        let written = serde_json::to_string(&gateway).unwrap();
        assert!(!written.contains("gw-secret-token-1"), "{written}");
        let none = LMRotateConfig::from_value(json!({})).unwrap();
        assert_eq!(GatewayConfig::of(&none).unwrap(), GatewayConfig::default());
    }

    #[test]
    fn every_field_is_documented() {
        let docs = include_str!("../../../../docs/configuration.md");
        let mut fields = serde_json::to_value(GatewayConfig::default()).unwrap();
        let client = json!({"id": "a", "token": "t", "env": "E", "models": ["m"], "rpm": 1,
            "tpm": 1, "budget_usd_per_day": 1.0, "budget_usd_per_month": 1.0});
        let entry: ClientConfig = serde_json::from_value(client).unwrap();
        let entry = serde_json::to_value(entry).unwrap();
        fields
            .as_object_mut()
            .unwrap()
            .extend(entry.as_object().unwrap().clone());
        for field in fields.as_object().unwrap().keys() {
            assert!(
                docs.contains(&format!("`{field}`")),
                "`{field}` is not in docs/configuration.md"
            );
        }
    }
}
