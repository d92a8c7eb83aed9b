//! `llm-rotate serve`: the rotation engine behind an HTTP gateway any language can use.
//!
//! Routes: `POST /v1/chat/completions` (OpenAI's format, SSE with `stream: true`),
//! `GET /v1/models` and `/v1/models/{id}`, `POST /v1/messages` and
//! `/v1/messages/count_tokens` (Anthropic's format and event stream), `POST /v1/responses`
//! (OpenAI's Responses API), `POST /v1/embeddings`,
//! `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (Gemini's format), `GET /health`, `GET /metrics`
//! (Prometheus), `POST /admin/reload`, `POST /admin/keys/{id}/disable|enable`, the
//! `/ui` dashboard, and the `/livez` and `/readyz` probes. Clients present a gateway token; upstream keys
//! never come from clients and never go back to them. SIGHUP reloads the config file;
//! SIGTERM or Ctrl-C stops accepting, drains in-flight requests and closes the client.

mod answer;
mod anthropic;
mod clients;
mod embeddings;
mod gemini;
mod http;
#[cfg(test)]
mod ingress_fuzz;
mod metrics;
mod openai;
mod responses;
pub mod settings;
mod ui;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ::http::{Method, Request, Response, StatusCode};
use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use llm_rotate::{configure_from_file, Clock, LMRotate, LMRotateConfig, SystemClock};
use tokio::net::TcpListener;

use self::http::{json_response, ApiError, Body, Dialect};
use self::metrics::Metrics;
pub use self::settings::GatewayConfig;
use self::settings::{CallHints, Client, Settings};
use crate::workers::Workers;

/// The running gateway's state. The config in force is the client's; the gateway keeps
/// only its own settings, swapped as one snapshot on reload.
pub struct Gateway {
    client: LMRotate,
    config_path: PathBuf,
    settings: ArcSwap<Settings>,
    metrics: Metrics,
    sessions: ui::Sessions,
    history: ui::History,
}

impl Gateway {
    /// A gateway serving `config` (read from `config_path`, re-read on reload) with
    /// `settings` (its `gateway` section, tokens resolved).
    pub fn new(
        config_path: &Path,
        config: LMRotateConfig,
        settings: Settings,
    ) -> Result<Self, llm_rotate::ConfigurationError> {
        Ok(Self {
            client: LMRotate::new(config)?,
            config_path: config_path.to_owned(),
            settings: ArcSwap::from_pointee(settings),
            metrics: Metrics::default(),
            sessions: ui::Sessions::default(),
            history: ui::History::default(),
        })
    }

    /// Re-reads the config file and swaps it in (keys that survive keep their health).
    /// Everything is checked before anything changes.
    pub fn reload(&self) -> Result<(), llm_rotate::ConfigurationError> {
        let config = configure_from_file(&self.config_path, None)?;
        let (_, settings) = settings::load(&config)?;
        self.client.reload_config(config)?;
        self.settings.store(Arc::new(settings));
        tracing::info!(path = %self.config_path.display(), "configuration reloaded");
        Ok(())
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let started = SystemClock.monotonic();
        let (_in_flight, serving) = self.metrics.enter();
        let (route, response, upstream_ms) = match self.shed(&request, serving) {
            Some(refused) => ("overloaded", refused, None),
            None => self.route(request).await,
        };
        let elapsed = SystemClock
            .monotonic()
            .saturating_sub(started)
            .as_secs_f64();
        self.metrics.count(route, response.status().as_u16());
        self.metrics.latency.observe(elapsed);
        if let Some(upstream_ms) = upstream_ms {
            self.metrics
                .overhead
                .observe((elapsed - upstream_ms / 1000.0).max(0.0));
        }
        response
    }

    async fn route(
        &self,
        request: Request<Incoming>,
    ) -> (&'static str, Response<Body>, Option<f64>) {
        let path = request.uri().path();
        let post = request.method() == Method::POST;
        if path == "/ui" || path.starts_with("/ui/") {
            return ("ui", self.dashboard(request).await, None);
        }
        if path == "/v1/chat/completions" || path == "/chat/completions" {
            if !post {
                return ("chat_completions", not_allowed(Dialect::OpenAi), None);
            }
            let (response, upstream) = self.chat_completions(request).await;
            return ("chat_completions", response, upstream);
        }
        if path == "/v1/responses" {
            if !post {
                return ("responses", not_allowed(Dialect::OpenAi), None);
            }
            let (response, upstream) = self.responses(request).await;
            return ("responses", response, upstream);
        }
        if path == "/v1/embeddings" {
            if !post {
                return ("embeddings", not_allowed(Dialect::OpenAi), None);
            }
            let (response, upstream) = self.embeddings(request).await;
            return ("embeddings", response, upstream);
        }
        if path == "/v1/messages" || path == "/v1/messages/count_tokens" {
            if !post {
                return ("messages", not_allowed(Dialect::Anthropic), None);
            }
            let count = path.ends_with("count_tokens");
            let (response, upstream) = self.anthropic_messages(request, count).await;
            return ("messages", response, upstream);
        }
        if let Some((model, call)) = gemini::route(path) {
            if !post {
                return ("generate_content", not_allowed(Dialect::Google), None);
            }
            let model = model.to_owned();
            let (response, upstream) = self.generate_content(request, &model, call).await;
            return ("generate_content", response, upstream);
        }
        let response = match (request.method(), path) {
            (&Method::GET, "/v1/models" | "/models") => match self.authorize(&request, false) {
                Ok(caller) => openai::models(&self.models_for(caller.as_deref())),
                Err(e) => e.into_response(Dialect::OpenAi),
            },
            (&Method::GET, path) if path.starts_with("/v1/models/") => {
                match self.authorize(&request, false) {
                    Ok(caller) => openai::model(
                        &self.models_for(caller.as_deref()),
                        &path["/v1/models/".len()..],
                    ),
                    Err(e) => e.into_response(Dialect::OpenAi),
                }
            }
            // probes for load balancers and Kubernetes: no token, no detail
            (&Method::GET, "/livez") => probe(true),
            (&Method::GET, "/readyz") => probe(self.ready().await),
            (&Method::GET, "/health") => match self.authorize(&request, false) {
                Ok(_) => json_response(StatusCode::OK, &self.client.health().await),
                Err(e) => e.into_response(Dialect::OpenAi),
            },
            (&Method::GET, "/metrics") => match self.authorize(&request, false) {
                Ok(_) => {
                    let text = self.metrics.render(
                        &self.client.health().await,
                        &self.client.usage_summary().await,
                        &self.client.affinity_stats(),
                        self.client.waiting_calls(),
                    );
                    http::bytes_response(
                        StatusCode::OK,
                        "text/plain; version=0.0.4; charset=utf-8",
                        text.into(),
                    )
                }
                Err(e) => e.into_response(Dialect::OpenAi),
            },
            (&Method::POST, path) if admin_key_route(path).is_some() => {
                if self.may_administer(request.headers()) {
                    self.set_key_enabled(path)
                } else {
                    unauthorized().into_response(Dialect::OpenAi)
                }
            }
            (&Method::POST, "/admin/reload") => match self.authorize(&request, true) {
                Ok(_) => match self.reload() {
                    Ok(()) => json_response(StatusCode::OK, &serde_json::json!({"reloaded": true})),
                    Err(e) => {
                        ApiError::bad_request(format!("the new configuration was refused: {e}"))
                            .into_response(Dialect::OpenAi)
                    }
                },
                Err(e) => e.into_response(Dialect::OpenAi),
            },
            _ => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "not_found",
                format!("Unknown route {path}."),
            )
            .into_response(Dialect::OpenAi),
        };
        ("other", response, None)
    }

    /// A 503 with `Retry-After` when `serving` requests exceed `gateway.max_in_flight`
    /// (health and metrics are always served), in the route's dialect.
    fn shed<B>(&self, request: &Request<B>, serving: i64) -> Option<Response<Body>> {
        let limit = self.settings.load().max_in_flight;
        if u64::try_from(serving).unwrap_or(0) <= limit {
            return None;
        }
        let path = request.uri().path();
        if matches!(path, "/health" | "/metrics" | "/livez" | "/readyz") {
            return None;
        }
        let dialect = dialect_of(path);
        let mut refused = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "overloaded",
            format!("The gateway is serving its limit of {limit} requests; retry shortly."),
        );
        refused.retry_after = Some(Duration::from_secs(1));
        Some(refused.into_response(dialect))
    }

    /// Checks the client's token (`admin`: against the admin tokens); gives the client
    /// it belongs to when it is a client token.
    fn authorize<B>(
        &self,
        request: &Request<B>,
        admin: bool,
    ) -> Result<Option<Arc<Client>>, ApiError> {
        let settings = self.settings.load();
        let presented = http::presented_token(request.headers());
        if admin {
            return match http::token_matches(presented, &settings.admin_tokens) {
                true => Ok(None),
                false => Err(unauthorized()),
            };
        }
        if settings.tokens.is_empty() && settings.clients.is_empty() {
            return Ok(None);
        }
        if let Some(i) = http::token_position(presented, settings.clients.iter().map(|c| &c.token))
        {
            return Ok(settings.clients.get(i).cloned());
        }
        match http::token_matches(presented, &settings.tokens) {
            true => Ok(None),
            false => Err(unauthorized()),
        }
    }

    /// The models served, as far as `client` may call them.
    fn models_for(&self, client: Option<&Client>) -> Vec<llm_rotate::ServedModel> {
        let mut served = self.client.served_models();
        if let Some(client) = client {
            served.retain(|m| client.allow_model(&m.id).is_ok());
        }
        served
    }

    /// Checks the client's token, then reads the body under the size limit.
    async fn authorized_body(&self, request: Request<Incoming>) -> Result<bytes::Bytes, ApiError> {
        self.authorize(&request, false)?;
        self.read_body(request).await
    }

    async fn read_body(&self, request: Request<Incoming>) -> Result<bytes::Bytes, ApiError> {
        let limit = self.settings.load().max_body_bytes;
        let (parts, body) = request.into_parts();
        http::read_body(body, &parts.headers, limit).await
    }

    /// Everything before a call: the headers' hints, the token, the client's limits
    /// (one admission per call, whatever the route), then the body.
    async fn admitted(
        &self,
        request: Request<Incoming>,
    ) -> Result<(CallHints, bytes::Bytes), ApiError> {
        let mut hints = self.settings.load().hints(request.headers())?;
        hints.client = self.authorize(&request, false)?;
        if let Some(client) = &hints.client {
            if !client.limits.is_unlimited() {
                if let Err(refused) = self.client.admit_client(&client.id, &client.limits).await {
                    self.metrics.refused(&client.id, refused.kind);
                    return Err(client.refusal(&refused));
                }
            }
        }
        Ok((hints, self.read_body(request).await?))
    }

    async fn chat_completions(&self, request: Request<Incoming>) -> (Response<Body>, Option<f64>) {
        let result = async {
            let (hints, body) = self.admitted(request).await?;
            let mut parsed = openai::parse(&body)?;
            hints.apply(&mut parsed.options, &parsed.model)?;
            openai::complete(&self.client, parsed).await
        }
        .await;
        result.unwrap_or_else(|e| (e.into_response(openai::DIALECT), None))
    }

    async fn responses(&self, request: Request<Incoming>) -> (Response<Body>, Option<f64>) {
        let result = async {
            let (hints, body) = self.admitted(request).await?;
            responses::serve(&self.client, &body, hints).await
        }
        .await;
        result.unwrap_or_else(|e| (e.into_response(openai::DIALECT), None))
    }

    async fn embeddings(&self, request: Request<Incoming>) -> (Response<Body>, Option<f64>) {
        let result = async {
            let (hints, body) = self.admitted(request).await?;
            let (model, mut parsed) = embeddings::parse_openai(&body)?;
            parsed.options.client = hints.client_for(&model)?;
            embeddings::serve(&self.client, &model, parsed, embeddings::Shape::OpenAi).await
        }
        .await;
        result.unwrap_or_else(|e| (e.into_response(openai::DIALECT), None))
    }

    /// `POST /admin/keys/{id}/disable|enable`: an operator's decision, shared through the
    /// store like the library's `set_key_enabled`.
    fn set_key_enabled(&self, path: &str) -> Response<Body> {
        let Some((id, enabled)) = admin_key_route(path) else {
            return ApiError::bad_request("Unknown admin route.").into_response(Dialect::OpenAi);
        };
        match self.client.set_key_enabled(&id, enabled) {
            Ok(()) => json_response(
                StatusCode::OK,
                &serde_json::json!({"key_id": id, "enabled": enabled}),
            ),
            Err(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown_key",
                "No key with that id is configured.",
            )
            .into_response(Dialect::OpenAi),
        }
    }

    /// Ready: a config is loaded (it is, while serving), some key may serve now, and a
    /// shared store is connected when one is configured.
    async fn ready(&self) -> bool {
        let health = self.client.health().await;
        let some_key = health.providers.iter().any(|p| p.available_keys > 0);
        let store = health.store.backend == "memory" || health.store.connected;
        some_key && store
    }

    async fn anthropic_messages(
        &self,
        request: Request<Incoming>,
        count: bool,
    ) -> (Response<Body>, Option<f64>) {
        let result = async {
            if count {
                let body = self.authorized_body(request).await?;
                return anthropic::count_tokens(&body).map(|r| (r, None));
            }
            let headers = request.headers().clone();
            let (hints, body) = self.admitted(request).await?;
            anthropic::messages(&self.client, &body, &headers, hints).await
        }
        .await;
        result.unwrap_or_else(|e| (e.into_response(anthropic::DIALECT), None))
    }

    async fn generate_content(
        &self,
        request: Request<Incoming>,
        model: &str,
        method: gemini::Method,
    ) -> (Response<Body>, Option<f64>) {
        let result = async {
            let counted = method != gemini::Method::CountTokens;
            let (hints, body) = if counted {
                self.admitted(request).await?
            } else {
                (CallHints::default(), self.authorized_body(request).await?)
            };
            // the path's model, decoded once; the library then holds it to the model-id grammar
            let model = percent_encoding::percent_decode_str(model)
                .decode_utf8()
                .map_err(|_| ApiError::bad_request("the model in the path is not UTF-8"))?;
            match method {
                gemini::Method::Embed | gemini::Method::BatchEmbed => {
                    let batch = method == gemini::Method::BatchEmbed;
                    let shape = if batch {
                        embeddings::Shape::GeminiBatch
                    } else {
                        embeddings::Shape::GeminiOne
                    };
                    let mut parsed = embeddings::parse_gemini(&body, batch)?;
                    parsed.options.client = hints.client_for(&model)?;
                    embeddings::serve(&self.client, &model, parsed, shape).await
                }
                gemini::Method::CountTokens => {
                    Ok((gemini::count_tokens(&gemini::parse_count(&body)?), None))
                }
                gemini::Method::Generate | gemini::Method::Stream => {
                    let stream = method == gemini::Method::Stream;
                    let request = gemini::parse(&body)?;
                    gemini::generate(&self.client, &model, stream, request, hints).await
                }
            }
        }
        .await;
        result.unwrap_or_else(|e| (e.into_response(gemini::DIALECT), None))
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
        "Missing or invalid gateway token.",
    )
}

/// The key id (percent-decoded) and the switch of `/admin/keys/{id}/disable|enable`.
fn admin_key_route(path: &str) -> Option<(String, bool)> {
    let rest = path.strip_prefix("/admin/keys/")?;
    let (id, action) = rest.rsplit_once('/')?;
    let enabled = match action {
        "enable" => true,
        "disable" => false,
        _ => return None,
    };
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?;
    (!id.is_empty()).then(|| (id.into_owned(), enabled))
}

/// A probe's answer: `ok`, or 503 `not ready`.
fn probe(ok: bool) -> Response<Body> {
    let (status, text) = if ok {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    };
    http::bytes_response(status, "text/plain; charset=utf-8", text.into())
}

fn dialect_of(path: &str) -> Dialect {
    if gemini::route(path).is_some() {
        Dialect::Google
    } else if path.starts_with("/v1/messages") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    }
}

fn not_allowed(dialect: Dialect) -> Response<Body> {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        "Use POST on this route.",
    )
    .into_response(dialect)
}

/// Serves `gateway` on `listener` until `shutdown` resolves, then drains for up to `drain`.
/// Connections are served on `workers`; accepting, signals and the drain stay here.
pub async fn serve(
    listener: TcpListener,
    workers: &Workers,
    gateway: Arc<Gateway>,
    header_timeout: Duration,
    drain: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/2 streams run on the workers in turn, not all on their connection's worker
    let mut builder = hyper_util::server::conn::auto::Builder::new(workers.executor());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let gateway = gateway.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                workers.serve(stream, move |stream| async move {
                    let service = hyper::service::service_fn(move |request| {
                        let gateway = gateway.clone();
                        async move { Ok::<_, std::convert::Infallible>(gateway.handle(request).await) }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("draining in-flight requests");
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timed out; closing the remaining connections");
    }
    gateway.client.close().await;
}

/// Waits for SIGTERM or Ctrl-C; reloads on SIGHUP meanwhile.
async fn signals(gateway: Arc<Gateway>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut hangup), Ok(mut terminate)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    if let Err(error) = gateway.reload() {
                        tracing::error!(%error, "reload refused; keeping the running configuration");
                    }
                }
                _ = terminate.recv() => return,
                _ = tokio::signal::ctrl_c() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = gateway;
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `llm-rotate serve`, with `workers` connection threads (default: one per core).
pub async fn run(
    config_path: &Path,
    listen: Option<&str>,
    workers: Option<usize>,
) -> Result<(), String> {
    let config = configure_from_file(config_path, None).map_err(|e| e.to_string())?;
    let (gateway_config, settings) = settings::load(&config).map_err(|e| e.to_string())?;
    let _telemetry = crate::telemetry::init(gateway_config.otel_endpoint.as_deref())?;
    let address = listen.unwrap_or(&gateway_config.listen).to_owned();
    let address: SocketAddr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an address like 127.0.0.1:8080"))?;
    let header_timeout = Duration::from_secs(gateway_config.header_read_timeout_seconds.max(1));
    let drain = Duration::from_secs(gateway_config.drain_timeout_seconds);
    if settings.tokens.is_empty() {
        tracing::warn!(
            "no gateway tokens configured: any client that can reach the gateway may use it"
        );
    }
    let gateway = Arc::new(Gateway::new(config_path, config, settings).map_err(|e| e.to_string())?);
    tokio::spawn(Gateway::sample_history(Arc::downgrade(&gateway)));
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    // the first line of stdout names the address (tests and scripts read it)
    let workers = Workers::start(workers.unwrap_or_else(Workers::default_count))
        .map_err(|e| format!("cannot start the worker threads: {e}"))?;
    println!("llm-rotate gateway listening on http://{bound}");
    tracing::info!(%bound, "gateway listening");
    serve(
        listener,
        &workers,
        gateway.clone(),
        header_timeout,
        drain,
        signals(gateway),
    )
    .await;
    Ok(())
}
