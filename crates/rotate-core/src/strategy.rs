//! The four key-selection strategies, by name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ConfigurationError;

/// How a key is chosen among the eligible keys of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Configuration order, cycling; a skipped key keeps its place.
    RoundRobin,
    /// Lowest priority number first; ties rotate.
    Priority,
    /// Smooth weighted round-robin (as in nginx).
    Weighted,
    /// Healthiest first (no recent failures, low latency and load, most headroom); ties rotate.
    #[default]
    HealthAware,
}

impl Strategy {
    /// All strategies.
    pub const ALL: [Strategy; 4] = [
        Strategy::RoundRobin,
        Strategy::Priority,
        Strategy::Weighted,
        Strategy::HealthAware,
    ];

    /// The config name: `round_robin`, `priority`, `weighted` or `health_aware`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::Priority => "priority",
            Self::Weighted => "weighted",
            Self::HealthAware => "health_aware",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = ConfigurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == s)
            .ok_or_else(|| {
                ConfigurationError::new(
                    "defaults.selection_strategy",
                    format!(
                        "unknown strategy `{s}`; expected one of round_robin, priority, weighted, health_aware"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("fastest".parse::<Strategy>().is_err());
        assert_eq!(Strategy::default(), Strategy::HealthAware);
    }
}
