//! Names of everything the store keeps in Redis. Every name starts with `{namespace}`:
//! the braces make the namespace the hash tag, so all of a namespace's keys sit in one
//! Redis Cluster slot (Lua scripts may touch several of them).

use rotate_core::limit::LimitKind;
use rotate_core::store::RateWindow;

/// The names under one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// Separates a name from a counter in usage hash fields (`openai\x1frequests`).
pub(crate) const FIELD_SEPARATOR: char = '\u{1f}';

/// The usage dimensions, each one hash.
pub(crate) const DIMENSIONS: [&str; 5] = ["provider", "key", "model", "upstream", "client"];

impl Keys {
    pub(crate) fn new(namespace: &str) -> Self {
        Self {
            prefix: format!("{{{namespace}}}"),
        }
    }

    /// The hash holding one key's health state.
    pub(crate) fn state(&self, key_id: &str) -> String {
        format!("{}:state:{key_id}", self.prefix)
    }

    /// The set of key ids that have a state.
    pub(crate) fn known(&self) -> String {
        format!("{}:known", self.prefix)
    }

    /// The channel transitions are announced on.
    pub(crate) fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// The hash of total usage counters.
    pub(crate) fn usage_total(&self) -> String {
        format!("{}:usage:total", self.prefix)
    }

    /// The hash of usage counters of one dimension (`provider`, `key`, `model`, `upstream`).
    pub(crate) fn usage(&self, dimension: &str) -> String {
        format!("{}:usage:{dimension}", self.prefix)
    }

    /// The marker that makes a usage batch count once.
    pub(crate) fn batch(&self, instance: &str, seq: u64) -> String {
        format!("{}:batch:{instance}:{seq}", self.prefix)
    }

    /// One rate window's counter.
    pub(crate) fn window(&self, key_id: &str, window: RateWindow, start_ms: u64) -> String {
        format!(
            "{}:window:{key_id}:{}:{start_ms}",
            self.prefix,
            window.as_str()
        )
    }

    /// One client's counter of `kind` in the window starting at `start_ms`.
    pub(crate) fn limit(&self, client: &str, kind: LimitKind, start_ms: u64) -> String {
        format!(
            "{}:limit:{client}:{}:{start_ms}",
            self.prefix,
            kind.as_str()
        )
    }

    /// The pattern matching every key of the namespace (for cleanup).
    pub(crate) fn pattern(&self) -> String {
        format!("{}:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_carries_the_hash_tag() {
        let k = Keys::new("team");
        for name in [
            k.state("a"),
            k.known(),
            k.channel(),
            k.usage_total(),
            k.usage("key"),
            k.batch("i", 1),
            k.window("a", RateWindow::Minute, 60_000),
            k.limit("c", LimitKind::Requests, 60_000),
        ] {
            assert!(name.starts_with("{team}:"), "{name}");
        }
    }
}
