//! One API key's settings: [`KeyConfig`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

fn default_weight() -> u32 {
    1
}

fn default_true() -> bool {
    true
}

/// One API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A unique id, shown wherever the key must be named.
    pub id: String,
    /// The provider it belongs to.
    pub provider: String,
    /// The key itself (exactly one of `value` and `env`; for a Vertex service account,
    /// `metadata.credentials_file` may name a JSON key file instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Secret>,
    /// The environment variable holding the key, read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Share under the `weighted` strategy.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Order under the `priority` strategy (lower first).
    #[serde(default)]
    pub priority: i64,
    /// False keeps the key configured but unused.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Models this key may serve; empty means all its provider serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// A per-key endpoint (Azure resources, self-hosted servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Local budget: requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Local budget: tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Local budget: requests per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Free-form data for the adapter (`project_id`, `location`, `deployment`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Keys sharing one vendor quota (an OpenAI or Anthropic organisation, a Google
    /// project) name the same group: a rate limit or a spent quota on one rests them
    /// all. A Vertex key defaults to its `metadata.project_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_group: Option<String>,
}

impl KeyConfig {
    /// A key for `provider` holding `value`, with every other field at its default.
    pub fn new(
        id: impl Into<String>,
        provider: impl Into<String>,
        value: impl Into<Secret>,
    ) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            value: Some(value.into()),
            env: None,
            weight: 1,
            priority: 0,
            enabled: true,
            models: Vec::new(),
            base_url: None,
            rpm: None,
            tpm: None,
            rpd: None,
            metadata: BTreeMap::new(),
            quota_group: None,
        }
    }

    /// The quota group in force: `quota_group`, else for a key of a Vertex provider
    /// (`vertex`, `vertex_anthropic`) its `metadata.project_id`.
    pub fn effective_quota_group(&self, vertex: bool) -> Option<&str> {
        self.quota_group.as_deref().or_else(|| {
            vertex
                .then(|| self.metadata.get("project_id").map(String::as_str))
                .flatten()
        })
    }

    /// True when the key may serve `model` (its allow-list is empty or names it).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}
