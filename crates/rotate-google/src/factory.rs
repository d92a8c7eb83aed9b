//! [`GoogleAdapterFactory`]: builds the adapters of `gemini` and `vertex` providers and
//! hands every other protocol to the HTTP factory it wraps.

use std::sync::Arc;

use rotate_core::config::{DefaultsConfig, ProviderConfig, WireApi};
use rotate_core::error::ConfigurationError;
use rotate_core::provider::{AdapterFactory, Provider};
use rotate_providers::HttpAdapterFactory;

use crate::adapter::GoogleAdapter;
use crate::reply::Service;

/// The adapter factory for every protocol, Google's included.
#[derive(Debug, Clone)]
pub struct GoogleAdapterFactory {
    http: HttpAdapterFactory,
}

impl GoogleAdapterFactory {
    /// Wraps `http`, whose client settings and clock the Google adapters share.
    pub fn new(http: HttpAdapterFactory) -> Self {
        Self { http }
    }
}

impl AdapterFactory for GoogleAdapterFactory {
    fn adapter(
        &self,
        name: &str,
        config: &ProviderConfig,
        defaults: &DefaultsConfig,
    ) -> Result<Arc<dyn Provider>, ConfigurationError> {
        let service = match config.api {
            Some(WireApi::Gemini) => Service::Studio,
            Some(WireApi::Vertex) => Service::Vertex,
            _ => return self.http.adapter(name, config, defaults),
        };
        Ok(Arc::new(GoogleAdapter::new(
            name,
            service,
            config,
            defaults,
            self.http.client().clone().build(),
            self.http.clock().clone(),
        )?))
    }
}
