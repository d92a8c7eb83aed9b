//! [`EngineBuilder`]: the config, the store, the clock and the adapters an engine is
//! built from.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::Engine;
use crate::clock::{Clock, SystemClock};
use crate::config::LMRotateConfig;
use crate::error::ConfigurationError;
use crate::provider::{AdapterFactory, Provider};
use crate::shared::EngineInner;
use crate::store::{StateListener, StateStore};
use crate::topology::{Adapters, Topology};

/// Builds an [`Engine`].
pub struct EngineBuilder {
    config: LMRotateConfig,
    store: Option<Arc<dyn StateStore>>,
    clock: Arc<dyn Clock>,
    custom: HashMap<String, Arc<dyn Provider>>,
    factory: Option<Arc<dyn AdapterFactory>>,
}

impl EngineBuilder {
    /// Starts from `config`.
    pub fn new(config: LMRotateConfig) -> Self {
        Self {
            config,
            store: None,
            clock: Arc::new(SystemClock),
            custom: HashMap::new(),
            factory: None,
        }
    }

    /// The state store (required).
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where adapters for configured providers come from.
    pub fn adapter_factory(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Registers a custom adapter under `name` (it wins over any configured provider of that name).
    pub fn provider(mut self, name: impl Into<String>, adapter: Arc<dyn Provider>) -> Self {
        self.custom.insert(name.into(), adapter);
        self
    }

    /// Validates the config and builds the engine.
    pub fn build(self) -> Result<Engine, ConfigurationError> {
        let store = self.store.ok_or_else(|| {
            ConfigurationError::new("state_store", "no state store was given to the engine")
        })?;
        let custom_names: Vec<&str> = self.custom.keys().map(String::as_str).collect();
        self.config.validate_with(&custom_names)?;
        let adapters = Adapters {
            custom: &self.custom,
            factory: self.factory.as_deref(),
            previous: None,
        };
        let topology = Topology::build(
            Arc::new(self.config),
            &adapters,
            store.as_ref(),
            self.clock.unix_ms(),
        )?;
        let inner = Arc::new(EngineInner {
            topology: ArcSwap::from_pointee(topology),
            store,
            clock: self.clock,
            custom: self.custom,
            factory: self.factory,
            closed: AtomicBool::new(false),
            reload: Mutex::new(()),
            affinity: crate::affinity::AffinityMap::default(),
            waiting: crate::waiting::Waiting::default(),
        });
        let listener: std::sync::Weak<dyn StateListener> =
            Arc::downgrade(&inner) as std::sync::Weak<EngineInner>;
        inner.store.set_listener(listener);
        Ok(Engine { inner })
    }
}
