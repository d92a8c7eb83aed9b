//! The model names a config serves: what a gateway lists at `/v1/models`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::LMRotateConfig;

/// A model name a caller may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedModel {
    /// The name to ask for.
    pub id: String,
    /// The provider that serves it, or `llm-rotate` for a fallback chain.
    pub owned_by: String,
}

impl LMRotateConfig {
    /// Every name this config serves, each once: the fallback chains, then for each
    /// provider that has keys (by name) its `models`, its aliases and its keys' `models`.
    pub fn served_models(&self) -> Vec<ServedModel> {
        let mut seen = BTreeSet::new();
        let mut served = Vec::new();
        let mut add = |id: &str, owned_by: &str| {
            if seen.insert(id.to_owned()) {
                served.push(ServedModel {
                    id: id.to_owned(),
                    owned_by: owned_by.to_owned(),
                });
            }
        };
        for name in self.fallback_chains.keys() {
            add(name, "llm-rotate");
        }
        let providers: BTreeSet<&str> = self.keys.iter().map(|k| k.provider.as_str()).collect();
        for provider in providers {
            let Some(settings) = self.provider(provider) else {
                continue;
            };
            for name in settings.models.iter().chain(settings.aliases.keys()) {
                add(name, provider);
            }
            for key in self.keys.iter().filter(|k| k.provider == provider) {
                for name in &key.models {
                    add(name, provider);
                }
            }
        }
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chains_then_each_provider_with_keys_once() {
        let config = LMRotateConfig::from_value(json!({
            "providers": {
                "openai": {"models": ["gpt-4o", "smart"], "aliases": {"fast": "gpt-4o-mini"}},
                "anthropic": {"models": ["claude-x"]}
            },
            "keys": [
                {"id": "a", "provider": "openai", "value": "x", "models": ["gpt-4o", "o3"]}
            ],
            "fallback_chains": {"smart": [{"provider": "openai"}]}
        }))
        .unwrap();
        let ids: Vec<(String, String)> = config
            .served_models()
            .into_iter()
            .map(|m| (m.id, m.owned_by))
            .collect();
        let expected = [
            ("smart", "llm-rotate"),
            ("gpt-4o", "openai"),
            ("fast", "openai"),
            ("o3", "openai"),
        ];
        assert_eq!(
            ids,
            expected.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec(),
            "anthropic has no key, so it serves nothing"
        );
    }
}
