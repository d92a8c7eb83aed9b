//! Credentials never print: the redacting `Debug` of the models that hold them, the
//! serde of header maps (written as `[redacted]`), and Redis URLs with their password
//! masked.

use std::fmt;

use super::{ProviderConfig, StateStoreConfig};

impl fmt::Debug for StateStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStoreConfig")
            .field("backend", &self.backend)
            .field("redis_url", &self.redacted_url())
            .field("redis_cluster", &self.redis_cluster)
            .field("redis_namespace", &self.redis_namespace)
            .finish()
    }
}

/// Replaces the password of `scheme://user:password@host` with `****` (in each URL of a
/// comma-separated list, as a cluster's seed nodes are given).
pub fn redact_url_password(url: &str) -> String {
    if url.contains(',') {
        let parts: Vec<String> = url.split(',').map(redact_url_password).collect();
        return parts.join(",");
    }
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{}://{}:****@{}", &url[..scheme_end], user, &rest[at + 1..])
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry credentials: show their names only.
        let header_names: Vec<&String> = self.headers.keys().collect();
        f.debug_struct("ProviderConfig")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("headers", &header_names)
            .field("models", &self.models)
            .field("aliases", &self.aliases)
            .field("timeout_seconds", &self.timeout_seconds)
            .field(
                "stream_idle_timeout_seconds",
                &self.stream_idle_timeout_seconds,
            )
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("cooldown_seconds", &self.cooldown_seconds)
            .field("quarantine_seconds", &self.quarantine_seconds)
            .field("max_consecutive_failures", &self.max_consecutive_failures)
            .field("max_retries", &self.max_retries)
            .field("stream_usage", &self.stream_usage)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("api_version", &self.api_version)
            .field("inline_limit_bytes", &self.inline_limit_bytes)
            .finish()
    }
}

pub(super) mod redacted_values {
    //! Serde for maps whose values may be secrets: written as `[redacted]`, and a
    //! `[redacted]` value read back is refused.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::REDACTED;

    pub(in crate::config) fn serialize<S: Serializer>(
        map: &BTreeMap<String, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.keys().map(|k| (k, REDACTED)))
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        if let Some((name, _)) = map.iter().find(|(_, v)| v.as_str() == REDACTED) {
            return Err(serde::de::Error::custom(format!(
                "header `{name}` was redacted when the config was written out; give its real value"
            )));
        }
        Ok(map)
    }
}
