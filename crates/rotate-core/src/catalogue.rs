//! The built-in providers: names, wire protocols and base URLs.
//!
//! A user's provider entry with one of these names is merged over it field by field
//! (`LMRotateConfig::provider`); every `base_url` can be overridden,
//! which is how tests point the whole system at a local fake upstream.

use serde::{Deserialize, Serialize};

/// A vendor wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireApi {
    /// OpenAI Chat Completions (and every OpenAI-compatible vendor, Azure included).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google AI Studio (Gemini API).
    Gemini,
    /// Google Vertex AI.
    Vertex,
    /// Claude on Google Vertex AI (Anthropic Messages on `rawPredict`).
    VertexAnthropic,
    /// AWS Bedrock's Converse API.
    Bedrock,
}

impl WireApi {
    /// `openai`, `anthropic`, `gemini`, `vertex`, `vertex_anthropic` or `bedrock`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
            Self::VertexAnthropic => "vertex_anthropic",
            Self::Bedrock => "bedrock",
        }
    }

    /// True for the protocols served on Vertex AI (`vertex`, `vertex_anthropic`): their
    /// keys are Google credentials with a project.
    pub fn is_vertex(self) -> bool {
        matches!(self, Self::Vertex | Self::VertexAnthropic)
    }
}

/// True for a cloud region name as it goes into a host name or a path (`us-east-1`,
/// `europe-west4`, `global`): lowercase ASCII letters, digits and hyphens, not empty.
pub fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One built-in provider.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinProvider {
    /// Its name in configs.
    pub name: &'static str,
    /// Its wire protocol.
    pub api: WireApi,
    /// Its documented base URL (`None` where each key brings its own, as for Azure).
    pub base_url: Option<&'static str>,
    /// Whether it accepts `stream_options.include_usage`.
    pub stream_usage: bool,
    /// Model-name prefixes it serves when its `models` list is empty.
    pub families: &'static [&'static str],
}

const OPENAI_FAMILIES: &[&str] = &["gpt-", "o1", "o3", "o4", "chatgpt-"];
const GEMINI_FAMILIES: &[&str] = &["gemini-"];
/// Bedrock's model ids: `{vendor}.{model}`, cross-region inference profiles
/// (`us.`, `eu.`, `apac.`, `global.`), and ARNs.
const BEDROCK_FAMILIES: &[&str] = &[
    "anthropic.",
    "amazon.",
    "meta.",
    "mistral.",
    "cohere.",
    "ai21.",
    "deepseek.",
    "openai.",
    "qwen.",
    "writer.",
    "us.",
    "eu.",
    "apac.",
    "global.",
    "arn:aws:bedrock:",
];

/// Every built-in provider.
pub const BUILTINS: &[BuiltinProvider] = &[
    BuiltinProvider {
        name: "openai",
        api: WireApi::Openai,
        base_url: Some("https://api.openai.com/v1"),
        stream_usage: true,
        families: OPENAI_FAMILIES,
    },
    BuiltinProvider {
        name: "anthropic",
        api: WireApi::Anthropic,
        base_url: Some("https://api.anthropic.com/v1"),
        stream_usage: false,
        families: &["claude-"],
    },
    BuiltinProvider {
        name: "google",
        api: WireApi::Gemini,
        base_url: Some("https://generativelanguage.googleapis.com/v1beta"),
        stream_usage: false,
        families: GEMINI_FAMILIES,
    },
    BuiltinProvider {
        name: "vertex",
        api: WireApi::Vertex,
        base_url: Some("https://{location}-aiplatform.googleapis.com/v1"),
        stream_usage: false,
        families: GEMINI_FAMILIES,
    },
    BuiltinProvider {
        name: "vertex_anthropic",
        api: WireApi::VertexAnthropic,
        base_url: Some("https://{location}-aiplatform.googleapis.com/v1"),
        stream_usage: false,
        families: &[],
    },
    BuiltinProvider {
        name: "bedrock",
        api: WireApi::Bedrock,
        base_url: Some("https://bedrock-runtime.{region}.amazonaws.com"),
        stream_usage: false,
        families: BEDROCK_FAMILIES,
    },
    BuiltinProvider {
        name: "azure_openai",
        api: WireApi::Openai,
        base_url: None,
        stream_usage: true,
        families: OPENAI_FAMILIES,
    },
    BuiltinProvider {
        name: "groq",
        api: WireApi::Openai,
        base_url: Some("https://api.groq.com/openai/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "mistral",
        api: WireApi::Openai,
        base_url: Some("https://api.mistral.ai/v1"),
        stream_usage: false,
        families: &[],
    },
    BuiltinProvider {
        name: "deepseek",
        api: WireApi::Openai,
        base_url: Some("https://api.deepseek.com/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "together",
        api: WireApi::Openai,
        base_url: Some("https://api.together.xyz/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "openrouter",
        api: WireApi::Openai,
        base_url: Some("https://openrouter.ai/api/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "xai",
        api: WireApi::Openai,
        base_url: Some("https://api.x.ai/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "fireworks",
        api: WireApi::Openai,
        base_url: Some("https://api.fireworks.ai/inference/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "cerebras",
        api: WireApi::Openai,
        base_url: Some("https://api.cerebras.ai/v1"),
        stream_usage: true,
        families: &[],
    },
    BuiltinProvider {
        name: "perplexity",
        api: WireApi::Openai,
        base_url: Some("https://api.perplexity.ai"),
        stream_usage: false,
        families: &[],
    },
];

/// The built-in provider named `name`.
pub fn builtin(name: &str) -> Option<&'static BuiltinProvider> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// True when `model` belongs to a family `provider` serves by default.
pub fn family_matches(provider: &str, model: &str) -> bool {
    builtin(provider).is_some_and(|b| b.families.iter().any(|prefix| model.starts_with(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_every_documented_vendor() {
        let expected = [
            ("openai", "https://api.openai.com/v1"),
            ("anthropic", "https://api.anthropic.com/v1"),
            ("google", "https://generativelanguage.googleapis.com/v1beta"),
            ("groq", "https://api.groq.com/openai/v1"),
            ("mistral", "https://api.mistral.ai/v1"),
            ("deepseek", "https://api.deepseek.com/v1"),
            ("together", "https://api.together.xyz/v1"),
            ("openrouter", "https://openrouter.ai/api/v1"),
            ("xai", "https://api.x.ai/v1"),
            ("fireworks", "https://api.fireworks.ai/inference/v1"),
            ("cerebras", "https://api.cerebras.ai/v1"),
            ("perplexity", "https://api.perplexity.ai"),
        ];
        for (name, url) in expected {
            assert_eq!(builtin(name).and_then(|b| b.base_url), Some(url), "{name}");
        }
        assert_eq!(
            builtin("azure_openai").map(|b| b.api),
            Some(WireApi::Openai)
        );
        assert_eq!(builtin("vertex").map(|b| b.api), Some(WireApi::Vertex));
    }

    #[test]
    fn families_route_models() {
        assert!(family_matches("openai", "gpt-4o-mini"));
        assert!(family_matches("openai", "o3-mini"));
        assert!(family_matches("anthropic", "claude-sonnet-4"));
        assert!(family_matches("google", "gemini-2.5-flash"));
        assert!(!family_matches("anthropic", "gpt-4o"));
        assert!(!family_matches("groq", "llama-3"));
    }
}
