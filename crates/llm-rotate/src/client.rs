//! [`LMRotate`]: the client applications hold.
//!
//! It wires a config to the built-in catalogue, the HTTP adapters, the engine and the
//! state store. It is `Send + Sync + Clone`; a clone is an `Arc` and shares everything.
//! It can be built with or without a running Tokio runtime: nothing starts until a call.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::Either;
use futures_util::FutureExt;

use rotate_core::config::{StateStoreConfig, StoreBackend};
use rotate_core::engine::{Engine, EngineBuilder};
use rotate_core::limit::{ClientLimits, LimitExceeded};
use rotate_core::provider::{AdapterFactory, Provider};
use rotate_core::store::StateStore;
use rotate_core::{
    AcquireContext, AffinityStats, ChatMessage, ChatOptions, ChatResponse, ChatStream, Clock,
    ConfigurationError, Content, EmbedOptions, EmbedResponse, GenerateOptions, HealthReport,
    LMRotateConfig, LMRotateError, SystemClock, UsageSummary,
};
use rotate_providers::{HttpAdapterFactory, HttpClientBuilder};
use rotate_store::MemoryStore;

use crate::load::check_features;

/// The client: chat with rotation, retries and fallback over every configured key.
///
/// ```no_run
/// use llm_rotate::{configure_from_file, ChatMessage, ChatOptions, LMRotate};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = LMRotate::new(configure_from_file("llm-rotate.yaml", None)?)?;
/// let reply = client
///     .chat("gpt-4o-mini", &[ChatMessage::user("Say hi")], ChatOptions::default())
///     .await?;
/// println!("{} (key {})", reply.content, reply.key_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LMRotate {
    engine: Engine,
    #[cfg(feature = "blocking")]
    bridge: Arc<crate::blocking::Bridge>,
}

impl std::fmt::Debug for LMRotate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LMRotate")
            .field("engine", &self.engine)
            .finish()
    }
}

/// Builds an [`LMRotate`] with custom providers, a clock or TLS settings.
pub struct LMRotateBuilder {
    config: LMRotateConfig,
    custom: HashMap<String, Arc<dyn Provider>>,
    clock: Arc<dyn Clock>,
    client: HttpClientBuilder,
}

impl std::fmt::Debug for LMRotateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LMRotateBuilder")
            .field("custom_providers", &self.custom.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl LMRotateBuilder {
    /// Registers an adapter written against `rotate-core` under `name`; keys with
    /// `provider: name` are served by it (it wins over a configured provider of that name).
    pub fn provider(mut self, name: impl Into<String>, adapter: Arc<dyn Provider>) -> Self {
        self.custom.insert(name.into(), adapter);
        self
    }

    /// Reads time from `clock` (tests pass a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// HTTP client settings (extra TLS roots) for every built-in adapter.
    pub fn http_client(mut self, client: HttpClientBuilder) -> Self {
        self.client = client;
        self
    }

    /// Validates the config and builds the client.
    pub fn build(self) -> Result<LMRotate, ConfigurationError> {
        check_features(&self.config)?;
        let http = HttpAdapterFactory::new(self.clock.clone()).with_client(self.client);
        #[cfg(feature = "google")]
        let factory: Arc<dyn AdapterFactory> =
            Arc::new(rotate_google::GoogleAdapterFactory::new(http));
        #[cfg(not(feature = "google"))]
        let factory: Arc<dyn AdapterFactory> = Arc::new(http);
        let store = state_store(&self.config.state_store)?;
        let mut builder = EngineBuilder::new(self.config)
            .store(store)
            .clock(self.clock)
            .adapter_factory(factory);
        for (name, adapter) in self.custom {
            builder = builder.provider(name, adapter);
        }
        Ok(LMRotate {
            engine: builder.build()?,
            #[cfg(feature = "blocking")]
            bridge: Arc::new(crate::blocking::Bridge::default()),
        })
    }
}

/// The store the config asks for.
fn state_store(config: &StateStoreConfig) -> Result<Arc<dyn StateStore>, ConfigurationError> {
    match config.backend {
        StoreBackend::Memory => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(rotate_store::RedisStore::from_config(config)?)),
        #[cfg(not(feature = "redis"))]
        StoreBackend::Redis => Err(ConfigurationError::new(
            "state_store.backend",
            "the redis backend needs llm-rotate's `redis` feature",
        )),
    }
}

impl LMRotate {
    /// A client for `config`.
    pub fn new(config: LMRotateConfig) -> Result<Self, ConfigurationError> {
        Self::builder(config).build()
    }

    /// A builder starting from `config`.
    pub fn builder(config: LMRotateConfig) -> LMRotateBuilder {
        LMRotateBuilder {
            config,
            custom: HashMap::new(),
            clock: Arc::new(SystemClock),
            client: HttpClientBuilder::default(),
        }
    }

    /// One chat call with rotation, retries and fallback.
    pub async fn chat(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: ChatOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        self.within_deadline(opts.timeout, self.engine.chat(model, messages, &opts))
            .await
    }

    /// Embeds `inputs` (one vector each) with rotation, retries and fallback over the
    /// plan entries whose provider has an embeddings API (OpenAI-family, Azure, Gemini
    /// on AI Studio).
    ///
    /// ```no_run
    /// # async fn run(client: llm_rotate::LMRotate) -> Result<(), llm_rotate::LMRotateError> {
    /// use llm_rotate::EmbedOptions;
    /// let answer = client
    ///     .embed("text-embedding-3-small", &["a cat", "a dog"], EmbedOptions::default())
    ///     .await?;
    /// assert_eq!(answer.embeddings.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[impl AsRef<str>],
        opts: EmbedOptions,
    ) -> Result<EmbedResponse, LMRotateError> {
        self.within_deadline(opts.timeout, self.engine.embed(model, inputs, &opts))
            .await
    }

    /// A streamed chat call: fails over until the first chunk with content; after it an
    /// upstream error ends the stream with one `Err` item. Dropping the stream cancels
    /// the upstream request and frees the key.
    pub async fn chat_stream(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: ChatOptions,
    ) -> Result<ChatStream, LMRotateError> {
        self.within_deadline(
            opts.timeout,
            self.engine.chat_stream(model, messages, &opts),
        )
        .await
    }

    /// Gemini's multimodal `generateContent` on the `google` (AI Studio) and `vertex`
    /// providers, with rotation, retries and fallback as for [`chat`](Self::chat).
    /// Consecutive contents without a role form one user turn. A model that resolves to
    /// any other provider is a [`LMRotateError::Configuration`] before any network call.
    ///
    /// ```no_run
    /// # async fn run(client: &llm_rotate::LMRotate, pdf: Vec<u8>) -> Result<(), llm_rotate::LMRotateError> {
    /// use llm_rotate::{ContentPart, GenerateOptions};
    ///
    /// let answer = client
    ///     .generate_content(
    ///         "gemini-2.5-flash",
    ///         vec!["Summarise this report".into(), ContentPart::pdf_bytes(pdf).into()],
    ///         GenerateOptions { max_output_tokens: Some(512), ..Default::default() },
    ///     )
    ///     .await?;
    /// println!("{} ({} tokens)", answer.content, answer.usage.total_tokens);
    /// # Ok(()) }
    /// ```
    pub async fn generate_content(
        &self,
        model: &str,
        contents: Vec<Content>,
        opts: GenerateOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        self.within_deadline(
            opts.timeout,
            self.engine.generate_content(model, contents, &opts),
        )
        .await
    }

    /// The streamed form of [`generate_content`](Self::generate_content): fails over until
    /// the first chunk with content, like [`chat_stream`](Self::chat_stream).
    pub async fn generate_content_stream(
        &self,
        model: &str,
        contents: Vec<Content>,
        opts: GenerateOptions,
    ) -> Result<ChatStream, LMRotateError> {
        self.within_deadline(
            opts.timeout,
            self.engine.generate_content_stream(model, contents, &opts),
        )
        .await
    }

    /// Runs `call` under the call's deadline (`timeout`, else the config's
    /// `defaults.call_timeout_seconds`); past it the call is dropped, which cancels its
    /// upstream request and frees its key without recording an outcome.
    ///
    /// A combinator rather than an `async fn`, so the call's future is not held twice
    /// (once as an argument, once as the future awaited).
    fn within_deadline<T, F>(
        &self,
        timeout: Option<std::time::Duration>,
        call: F,
    ) -> impl std::future::Future<Output = Result<T, LMRotateError>>
    where
        F: std::future::Future<Output = Result<T, LMRotateError>>,
    {
        match timeout.or_else(|| self.engine.call_timeout()) {
            None => Either::Left(call),
            Some(after) => Either::Right(tokio::time::timeout(after, call).map(move |outcome| {
                outcome.unwrap_or(Err(LMRotateError::DeadlineExceeded { after }))
            })),
        }
    }

    /// [`chat`](Self::chat) for code without an async runtime. Called inside a Tokio
    /// runtime it returns [`LMRotateError::Blocking`] instead of blocking it.
    #[cfg(feature = "blocking")]
    #[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
    pub fn chat_sync(
        &self,
        model: &str,
        messages: &[ChatMessage],
        opts: ChatOptions,
    ) -> Result<ChatResponse, LMRotateError> {
        let client = self.clone();
        let model = model.to_owned();
        let messages = messages.to_vec();
        self.bridge
            .run(async move { client.chat(&model, &messages, opts).await })
    }

    /// Borrows a raw key of `provider` (able to serve `model`), selected as a call would.
    pub async fn acquire(
        &self,
        provider: &str,
        model: Option<&str>,
    ) -> Result<AcquireContext, LMRotateError> {
        self.engine.acquire(provider, model).await
    }

    /// Every key's and provider's health.
    pub async fn health(&self) -> HealthReport {
        self.engine.health().await
    }

    /// Admits one request of `client` under `limits`: counted in the client's minute
    /// when admitted, refused with the spent window (and when it resets) otherwise.
    /// Calls made with [`ChatOptions::client`](crate::ChatOptions) add their tokens and
    /// cost to the same client's windows. With the Redis store, every process sharing the
    /// namespace counts together.
    ///
    /// ```
    /// # async fn run(client: llm_rotate::LMRotate) {
    /// use llm_rotate::core::limit::ClientLimits;
    ///
    /// let limits = ClientLimits { rpm: Some(1), ..Default::default() };
    /// assert!(client.admit_client("tenant-a", &limits).await.is_ok());
    /// let refused = client.admit_client("tenant-a", &limits).await.unwrap_err();
    /// println!("retry in {:?}", refused.retry_after);
    /// # }
    /// ```
    pub async fn admit_client(
        &self,
        client: &str,
        limits: &ClientLimits,
    ) -> Result<(), LimitExceeded> {
        self.engine.admit_client(client, limits).await
    }

    /// Usage counters by provider, key, model and client.
    pub async fn usage_summary(&self) -> UsageSummary {
        self.engine.usage_summary().await
    }

    /// Validates `config`, then swaps it in atomically; in-flight calls finish on the old
    /// one; keys whose id survives keep their health and usage.
    pub fn reload_config(&self, config: LMRotateConfig) -> Result<(), ConfigurationError> {
        check_features(&config)?;
        if config.state_store != self.engine.config().state_store {
            return Err(ConfigurationError::new(
                "state_store",
                "the state store cannot change on reload; build a new client for a new store",
            ));
        }
        self.engine.reload(config)
    }

    /// Turns a key off or back on (an operator's decision, shared through the store).
    pub fn set_key_enabled(&self, key_id: &str, enabled: bool) -> Result<(), LMRotateError> {
        self.engine.set_key_enabled(key_id, enabled)
    }

    /// Records that `key_id` served `affinity`: later calls with
    /// [`ChatOptions::affinity`] set to it prefer that key while it is eligible (for an
    /// id the vendor keeps per key, such as a Responses `id`). An unknown key id is ignored.
    pub fn remember_affinity(&self, affinity: &str, key_id: &str) {
        self.engine.remember_affinity(affinity, key_id);
    }

    /// How many calls wait for a key to come back now (see [`ChatOptions::max_wait`]).
    pub fn waiting_calls(&self) -> u32 {
        self.engine.waiting_calls()
    }

    /// The key recorded for `affinity` (the one a call naming it prefers), if any.
    pub fn affinity_key(&self, affinity: &str) -> Option<String> {
        self.engine.affinity_key(affinity)
    }

    /// How prompt-cache affinity fared in this process: hits, misses, entries.
    pub fn affinity_stats(&self) -> AffinityStats {
        self.engine.affinity_stats()
    }

    /// Flushes pending store writes; later calls return [`LMRotateError::Closed`].
    pub async fn close(&self) {
        self.engine.close().await;
    }

    /// The config in force.
    pub fn config(&self) -> Arc<LMRotateConfig> {
        self.engine.config()
    }

    /// The model names the config in force serves: fallback chains, then each provider's
    /// models and aliases (what a gateway lists at `/v1/models`).
    pub fn served_models(&self) -> Vec<crate::ServedModel> {
        self.engine.config().served_models()
    }

    /// The engine (for plug-in authors).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}
