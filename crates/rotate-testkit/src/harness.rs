//! An engine wired to a [`ScriptedProvider`], a memory store and a manual clock.

use std::sync::Arc;
use std::time::Duration;

use rotate_core::clock::{Clock, ManualClock};
use rotate_core::config::LMRotateConfig;
use rotate_core::engine::Engine;
use rotate_core::health::HealthState;
use rotate_core::store::StateStore;
use rotate_store::MemoryStore;

use crate::scripted::ScriptedProvider;

/// Start of every harness clock: 2026-01-01T00:00:00Z.
pub const START_MS: u64 = 1_767_225_600_000;

/// An engine, its scripted provider (registered under every name given), store and clock.
#[derive(Debug)]
pub struct Harness {
    /// The engine under test.
    pub engine: Engine,
    /// Answers every attempt.
    pub provider: Arc<ScriptedProvider>,
    /// The engine's clock.
    pub clock: Arc<ManualClock>,
    /// The engine's store.
    pub store: Arc<MemoryStore>,
}

impl Harness {
    /// Builds from a config in JSON form; `providers` names the scripted providers.
    ///
    /// # Panics
    /// When the config is invalid (a test bug).
    pub fn new(config: serde_json::Value, providers: &[&str]) -> Self {
        let config = LMRotateConfig::from_value(config).expect("test config parses");
        Self::from_config(config, providers).expect("test config is valid")
    }

    /// Builds from a parsed config.
    pub fn from_config(
        config: LMRotateConfig,
        providers: &[&str],
    ) -> Result<Self, rotate_core::ConfigurationError> {
        let provider = ScriptedProvider::new();
        let clock = Arc::new(ManualClock::new(START_MS));
        let store = Arc::new(MemoryStore::new());
        let mut builder = Engine::builder(config)
            .store(store.clone())
            .clock(clock.clone());
        for name in providers {
            builder = builder.provider(*name, provider.clone());
        }
        Ok(Self {
            engine: builder.build()?,
            provider,
            clock,
            store,
        })
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The store's state of `key_id`.
    pub fn state(&self, key_id: &str) -> HealthState {
        self.store.state(key_id)
    }

    /// Milliseconds since the epoch on the harness clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.unix_ms()
    }
}

/// A config with keys `ids` of provider `provider` under `strategy`, as JSON.
pub fn keys_config(provider: &str, ids: &[&str], strategy: &str) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "provider": provider, "value": format!("secret-value-of-{id}")}))
        .collect();
    serde_json::json!({
        "defaults": {"selection_strategy": strategy},
        "keys": keys,
    })
}
