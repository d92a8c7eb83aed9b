//! The adapter factory for the OpenAI and Anthropic protocols.

use std::sync::Arc;

use rotate_core::clock::{Clock, SystemClock};
use rotate_core::config::{DefaultsConfig, ProviderConfig, WireApi};
use rotate_core::error::ConfigurationError;
use rotate_core::provider::{AdapterFactory, Provider};

use crate::adapter::{Adapter, Timeouts};
use crate::anthropic::AnthropicWire;
use crate::client::{HttpClient, HttpClientBuilder};
use crate::openai::entra::EntraTokens;
use crate::openai::OpenAiWire;

/// Builds one adapter (with its own connection pool) per configured provider.
#[derive(Debug, Clone)]
pub struct HttpAdapterFactory {
    client: HttpClientBuilder,
    clock: Arc<dyn Clock>,
}

impl Default for HttpAdapterFactory {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl HttpAdapterFactory {
    /// A factory whose adapters read time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            client: HttpClient::builder(),
            clock,
        }
    }

    /// Uses `client` settings (extra TLS roots) for every adapter.
    pub fn with_client(mut self, client: HttpClientBuilder) -> Self {
        self.client = client;
        self
    }

    /// The client settings adapters are built with.
    pub fn client(&self) -> &HttpClientBuilder {
        &self.client
    }

    /// The clock adapters read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

impl AdapterFactory for HttpAdapterFactory {
    fn adapter(
        &self,
        name: &str,
        config: &ProviderConfig,
        defaults: &DefaultsConfig,
    ) -> Result<Arc<dyn Provider>, ConfigurationError> {
        let timeouts = Timeouts::of(config, defaults);
        let client = self.client.clone().build();
        match config.api {
            Some(WireApi::Openai) => {
                let wire = OpenAiWire::new(name, config)?;
                if !wire.is_azure() {
                    return Ok(Arc::new(Adapter::new(
                        wire,
                        client,
                        timeouts,
                        self.clock.clone(),
                    )));
                }
                let entra = EntraTokens::new(client.clone(), self.clock.clone(), timeouts.request);
                Ok(Arc::new(Adapter::with_credentials(
                    wire,
                    client,
                    timeouts,
                    self.clock.clone(),
                    Arc::new(entra),
                )))
            }
            Some(WireApi::Anthropic) => Ok(Arc::new(Adapter::new(
                AnthropicWire::new(name, config)?,
                client,
                timeouts,
                self.clock.clone(),
            ))),
            Some(api @ (WireApi::Gemini | WireApi::Vertex | WireApi::VertexAnthropic)) => {
                Err(ConfigurationError::new(
                    format!("providers.{name}.api"),
                    format!(
                        "the `{}` protocol is not handled by this factory",
                        api.as_str()
                    ),
                ))
            }
            #[cfg(feature = "bedrock")]
            Some(WireApi::Bedrock) => Ok(crate::bedrock::adapter(
                name,
                config,
                client,
                timeouts,
                self.clock.clone(),
            )?),
            #[cfg(not(feature = "bedrock"))]
            Some(WireApi::Bedrock) => Err(ConfigurationError::new(
                format!("providers.{name}.api"),
                "the `bedrock` protocol needs the `bedrock` feature",
            )),
            None => Err(ConfigurationError::new(
                format!("providers.{name}.api"),
                "no wire protocol given",
            )),
        }
    }
}
