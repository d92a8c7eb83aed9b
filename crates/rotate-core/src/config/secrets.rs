//! Reading credentials: a key's `value`, the environment variable its `env` names, or
//! the file `metadata.credentials_file` names; gateway-style `{env: VAR}` sources.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::KeyConfig;
use crate::error::ConfigurationError;
use crate::secret::Secret;

impl KeyConfig {
    /// The key's value: `value`, or the variable `env` names.
    pub fn resolve_secret(&self) -> Result<Secret, ConfigurationError> {
        match (&self.value, &self.env) {
            (Some(value), None) => Ok(value.clone()),
            (None, Some(var)) => std::env::var(var).map(Secret::new).map_err(|_| {
                ConfigurationError::new("env", format!("environment variable `{var}` is not set"))
            }),
            (Some(_), Some(_)) => Err(ConfigurationError::new(
                "",
                "give either `value` or `env`, not both",
            )),
            (None, None) => match self.metadata.get("credentials_file") {
                Some(path) => std::fs::read_to_string(path).map(Secret::new).map_err(|e| {
                    ConfigurationError::new(
                        "metadata.credentials_file",
                        format!("cannot read `{path}`"),
                    )
                    .with_source(e)
                }),
                None => Err(ConfigurationError::new(
                    "",
                    "give one of `value`, `env` or `metadata.credentials_file`",
                )),
            },
        }
    }
}

/// A credential given in the config: the value itself, or `{env: VAR}` naming the
/// environment variable that holds it (read at load time).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// The value.
    Value(Secret),
    /// `{env: VAR}`.
    Env {
        /// The variable's name.
        env: String,
    },
}

impl SecretSource {
    /// The credential (reading the environment for `{env}`).
    pub fn resolve(&self) -> Result<Secret, ConfigurationError> {
        match self {
            Self::Value(secret) => Ok(secret.clone()),
            Self::Env { env } => std::env::var(env).map(Secret::new).map_err(|_| {
                ConfigurationError::new("env", format!("environment variable `{env}` is not set"))
            }),
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(secret) => secret.fmt(f),
            Self::Env { env } => f.debug_struct("Env").field("env", env).finish(),
        }
    }
}
