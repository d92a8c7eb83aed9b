//! [`GoogleAdapterFactory`]: builds the adapters of `gemini`, `vertex` and
//! `vertex_anthropic` providers and hands every other protocol to the HTTP factory it
//! wraps.

use std::sync::Arc;

use rotate_core::config::{DefaultsConfig, ProviderConfig, WireApi};
use rotate_core::error::ConfigurationError;
use rotate_core::provider::{AdapterFactory, Provider};
use rotate_providers::{Adapter, AnthropicWire, HttpAdapterFactory, Timeouts};

use crate::accounts::Accounts;
use crate::claude::{VertexClaudeWire, VertexTokens};

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

impl GoogleAdapterFactory {
    /// The adapter of a `vertex_anthropic` provider: Anthropic's protocol with Vertex's
    /// URLs and service-account tokens.
    fn claude(
        &self,
        name: &str,
        config: &ProviderConfig,
        defaults: &DefaultsConfig,
    ) -> Result<Arc<dyn Provider>, ConfigurationError> {
        let timeouts = Timeouts::of(config, defaults);
        let client = self.http.client().clone().build();
        let accounts = Arc::new(Accounts::default());
        let tokens = VertexTokens::new(
            accounts.clone(),
            client.clone(),
            self.http.clock().clone(),
            timeouts.request,
        );
        let wire = VertexClaudeWire::new(
            AnthropicWire::new(name, config)?,
            config.base_url.clone(),
            accounts,
        );
        Ok(Arc::new(Adapter::with_credentials(
            wire,
            client,
            timeouts,
            self.http.clock().clone(),
            Arc::new(tokens),
        )))
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
            Some(WireApi::VertexAnthropic) => return self.claude(name, config, defaults),
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
