//! A fake vendor upstream: a real HTTP server on 127.0.0.1 speaking the OpenAI and
//! Anthropic protocols as the vendors document them (bodies, SSE framing, usage chunks,
//! error bodies, rate-limit headers), with behaviour scripted per API key and a log of
//! every request.
//!
//! Routes: `POST …/chat/completions` (OpenAI, and Azure's deployment form with an
//! `api-key` header), `POST …/messages` (Anthropic), `POST …/models/{m}:generateContent`
//! and `:streamGenerateContent?alt=sse` (Gemini on AI Studio, `x-goog-api-key`), the same
//! under `…/publishers/google/models/` (Vertex: a bearer token from `POST /token`, or an
//! API key in express mode), `POST /upload/v1beta/files` and `GET /v1beta/files/{id}`
//! (the Files API), `POST …/responses` (OpenAI's Responses API), `POST …/embeddings`
//! (OpenAI) and `:embedContent` /
//! `:batchEmbedContents` (Gemini). The key comes from `Authorization: Bearer`, `api-key`, `x-api-key`
//! or `x-goog-api-key`; for Vertex tokens it is the service account's `client_email`.
//! Each key plays its queued [`Behavior`]s one per request, then its default (a success
//! naming the key).

mod anthropic;
mod bedrock;
mod embeddings;
mod entra;
mod gemini;
mod responses;

/// The `thoughtSignature` the fake Gemini puts on its first function call (base64, as
/// Gemini's are: the SDKs decode it to bytes).
pub const GEMINI_SIGNATURE: &str = "c2lnX2dlbWluaV90ZXN0a2l0";
mod google;
mod openai;
mod render;

pub use google::{SERVICE_ACCOUNT_KEY_ID, SERVICE_ACCOUNT_PRIVATE_KEY};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rotate_core::clock::{Clock, SystemClock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use bedrock::{aws_key_json, aws_secret_of, short_term_bedrock_key};
pub use embeddings::vector_of;
pub use entra::{entra_principal_json, entra_secret_of};
pub use render::ReplyBody;

/// What the upstream does with one request of a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    /// 200 with a reply `ok from {key}`.
    Ok,
    /// 200 with this reply text.
    Reply(String),
    /// 429 rate limit, with `retry-after` when given (milliseconds below a second go in `retry-after-ms`).
    RateLimited(Option<Duration>),
    /// Quota or credit exhausted (OpenAI 429 `insufficient_quota`; Anthropic 400 credit balance).
    QuotaExhausted,
    /// 401 invalid key.
    Unauthorized,
    /// 400 invalid request.
    BadRequest,
    /// 400 context length exceeded.
    ContextLength,
    /// A server error with this status (500, 502, 503, 504, 529).
    ServerError(u16),
    /// An error with this status and message, in the vendor's error shape (what a
    /// vendor's own words look like on the way to a dashboard or a client).
    ErrorSaying(u16, String),
    /// Vendor overload (OpenAI 503, Anthropic 529 `overloaded_error`).
    Overloaded,
    /// Wait, then behave as the inner behaviour.
    Latency(Duration, Box<Behavior>),
    /// 200 whose body (or first stream chunk) is broken JSON.
    MalformedJson,
    /// Stream: this many content chunks, then the connection breaks.
    CutAfter(usize),
    /// Stream: this many content chunks, then the body ends without the terminal event.
    EndWithoutTerminal(usize),
    /// Stream: this many content chunks, then a mid-stream error event.
    MidStreamError(usize),
    /// Stream: this many content chunks, then silence.
    StallAfter(usize),
    /// 200, with rate-limit headers saying nothing is left until `reset`.
    HeadroomExhausted(Duration),
    /// 200, with rate-limit headers saying this many requests of a limit are left until
    /// the reset (what a key with a [request budget](FakeUpstream::set_request_budget)
    /// answers).
    Headroom(u64, u64, Duration),
    /// 200 with exactly this JSON body (a vendor answer of the wrong shape), on any
    /// route, streamed or not.
    Body(serde_json::Value),
    /// Gemini: 200 whose prompt was blocked (`promptFeedback.blockReason: SAFETY`).
    /// Other protocols answer 500.
    Blocked,
    /// The connection is closed without an answer (a reset, as the client sees it).
    Reset,
    /// A real rate limit: 429 with this `retry-after`, and the key keeps answering 429
    /// (with the time left) until it has passed, by the upstream's clock.
    RateLimitedFor(Duration),
    /// 200 whose answer calls these tools: OpenAI `tool_calls` (streamed as
    /// `delta.tool_calls` pieces), Anthropic `tool_use` blocks (streamed as
    /// `input_json_delta` pieces, after a signed thinking block when thinking was
    /// asked), the arguments streamed in three pieces; Gemini `functionCall` parts (no
    /// ids, a `thoughtSignature` on the first).
    ToolCalls(Vec<rotate_core::tool::ToolCall>),
    /// Stream: like [`Behavior::ToolCalls`] (OpenAI and Anthropic), but the connection
    /// breaks inside the first call's arguments. Not streamed: as `ToolCalls`.
    ToolCallsCut(Vec<rotate_core::tool::ToolCall>),
    /// 200 whose answer is a refusal with this text (OpenAI `message.refusal`, Anthropic
    /// `stop_reason: refusal`); not streamed only.
    Refusal(String),
    /// One of these behaviours per request, drawn at random by weight (a fault mix).
    Mix(Arc<[(u32, Behavior)]>),
}

/// Marks a response the server must not send: the connection is dropped instead.
#[derive(Debug, Clone, Copy)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the scripted behaviour")
    }
}

impl std::error::Error for ResetConnection {}

impl Behavior {
    /// For the stream behaviours: how many content chunks are sent before the ending.
    pub(crate) fn streamed_count(&self) -> Option<usize> {
        match self {
            Self::CutAfter(n)
            | Self::EndWithoutTerminal(n)
            | Self::MidStreamError(n)
            | Self::StallAfter(n) => Some(*n),
            _ => None,
        }
    }
}

/// Which protocol a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions (Azure included).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini on AI Studio.
    Gemini,
    /// Gemini on Vertex AI.
    Vertex,
    /// Claude on Vertex AI (`…/publishers/anthropic/models/{m}:rawPredict`).
    VertexAnthropic,
    /// AWS Bedrock's Converse API.
    Bedrock,
    /// The Files API (uploads and file lookups).
    Files,
    /// The OAuth token endpoint.
    Token,
    /// Entra ID's token endpoint (`/{tenant}/oauth2/v2.0/token`).
    EntraToken,
    /// A path no vendor serves (answered 404, and logged so tests see it arrived).
    Unrouted,
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The protocol.
    pub api: Api,
    /// The API key sent.
    pub key: String,
    /// The request path.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Every header, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body (`Null` when it was not JSON).
    pub body: serde_json::Value,
    /// The body's size in bytes.
    pub body_len: usize,
    /// Whether `stream: true` was asked.
    pub stream: bool,
    /// When it arrived (ms since the epoch).
    pub at_unix_ms: u64,
}

impl RecordedRequest {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct State {
    quiet: bool,
    clock: Mutex<Arc<dyn Clock>>,
    google: google::GoogleState,
    scripts: Mutex<HashMap<String, VecDeque<Behavior>>>,
    defaults: Mutex<HashMap<String, Behavior>>,
    log: Mutex<Vec<RecordedRequest>>,
    counter: std::sync::atomic::AtomicU64,
    rng: std::sync::atomic::AtomicU64,
    limited_until: Mutex<HashMap<String, u64>>,
    budgets: Mutex<HashMap<String, Budget>>,
    budget_refusals: std::sync::atomic::AtomicU64,
}

/// A key's request budget: `limit` requests per fixed window of `window_ms`.
#[derive(Debug, Clone, Copy)]
struct Budget {
    limit: u64,
    window_ms: u64,
    window_start: u64,
    used: u64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            quiet: false,
            clock: Mutex::new(Arc::new(SystemClock)),
            google: google::GoogleState::default(),
            scripts: Mutex::default(),
            defaults: Mutex::default(),
            log: Mutex::default(),
            counter: std::sync::atomic::AtomicU64::new(0),
            rng: std::sync::atomic::AtomicU64::new(0x2545_F491_4F6C_DD1D),
            limited_until: Mutex::default(),
            budgets: Mutex::default(),
            budget_refusals: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl State {
    fn now_ms(&self) -> u64 {
        self.clock.lock().unix_ms()
    }

    fn next_behavior(&self, key: &str) -> Behavior {
        if let Some(b) = self
            .scripts
            .lock()
            .get_mut(key)
            .and_then(VecDeque::pop_front)
        {
            return b;
        }
        self.defaults
            .lock()
            .get(key)
            .cloned()
            .unwrap_or(Behavior::Ok)
    }

    /// What `key`'s request budget, if it has one, makes of the call at `now_ms`: the
    /// headroom left after it, or a 429 until the window resets.
    fn spend_budget(&self, key: &str, now_ms: u64) -> Option<Behavior> {
        let mut budgets = self.budgets.lock();
        let budget = budgets.get_mut(key)?;
        let start = now_ms - now_ms % budget.window_ms;
        if start != budget.window_start {
            budget.window_start = start;
            budget.used = 0;
        }
        let reset = Duration::from_millis(start + budget.window_ms - now_ms);
        if budget.used >= budget.limit {
            self.budget_refusals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Some(Behavior::RateLimited(Some(reset)));
        }
        budget.used += 1;
        Some(Behavior::Headroom(
            budget.limit - budget.used,
            budget.limit,
            reset,
        ))
    }

    /// How long `key` stays rate limited after a [`Behavior::RateLimitedFor`].
    fn limited_for(&self, key: &str, now_ms: u64) -> Option<Duration> {
        let until = *self.limited_until.lock().get(key)?;
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }

    fn limit(&self, key: &str, now_ms: u64, wait: Duration) {
        let until = now_ms.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        self.limited_until.lock().insert(key.to_owned(), until);
    }

    /// `behavior`, with every [`Behavior::Mix`] drawn down to one behaviour.
    fn draw(&self, mut behavior: Behavior) -> Behavior {
        while let Behavior::Mix(choices) = behavior {
            let total: u64 = choices.iter().map(|(w, _)| u64::from(*w)).sum();
            if total == 0 {
                return Behavior::Ok;
            }
            let mut ticket = self.random() % total;
            behavior = Behavior::Ok;
            for (weight, choice) in choices.iter() {
                if ticket < u64::from(*weight) {
                    behavior = choice.clone();
                    break;
                }
                ticket -= u64::from(*weight);
            }
        }
        behavior
    }

    /// xorshift64 over a shared state: cheap, and a fixed seed makes runs comparable.
    fn random(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let old = self
            .rng
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |x| Some(step(x)))
            .unwrap_or(1);
        step(old)
    }
}

/// The running fake upstream. Stops when dropped.
#[derive(Debug)]
pub struct FakeUpstream {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    /// Starts on 127.0.0.1 on a port the OS picks, on the current Tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(false).await
    }

    /// Starts without a request log (for benchmarks: memory stays flat however many
    /// requests arrive).
    pub async fn start_quiet() -> std::io::Result<Self> {
        Self::start_with(true).await
    }

    async fn start_with(quiet: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            quiet,
            ..State::default()
        });
        let served = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = served.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move {
                            let response = handle(state, request).await;
                            match response.extensions().get::<ResetConnection>() {
                                Some(reset) => Err(*reset),
                                None => Ok(response),
                            }
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL for OpenAI-style and Anthropic providers: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues behaviours for the next requests with `key`.
    pub fn script(&self, key: &str, behaviors: impl IntoIterator<Item = Behavior>) {
        self.state
            .scripts
            .lock()
            .entry(key.to_owned())
            .or_default()
            .extend(behaviors);
    }

    /// What `key` does once its queue is empty.
    pub fn set_default(&self, key: &str, behavior: Behavior) {
        self.state.defaults.lock().insert(key.to_owned(), behavior);
    }

    /// Gives `key` a budget of `limit` requests per fixed window of `window` (by the
    /// upstream's clock), counted down in its rate-limit headers; past it the key answers
    /// 429 with the time to the reset, as vendors do. A key with a budget ignores its
    /// scripted behaviours.
    pub fn set_request_budget(&self, key: &str, limit: u64, window: Duration) {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        self.state.budgets.lock().insert(
            key.to_owned(),
            Budget {
                limit,
                window_ms,
                window_start: u64::MAX,
                used: 0,
            },
        );
    }

    /// How many calls a request budget refused with a 429.
    pub fn budget_refusals(&self) -> u64 {
        self.state
            .budget_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.log.lock().clone()
    }

    /// Every request so far that spoke `api`, in order.
    pub fn requests_to(&self, api: Api) -> Vec<RecordedRequest> {
        self.state
            .log
            .lock()
            .iter()
            .filter(|r| r.api == api)
            .cloned()
            .collect()
    }

    /// The keys of every request so far, in order.
    pub fn keys_called(&self) -> Vec<String> {
        self.state
            .log
            .lock()
            .iter()
            .map(|r| r.key.clone())
            .collect()
    }

    /// Forgets the log.
    pub fn clear_requests(&self) {
        self.state.log.lock().clear();
    }

    /// Reads time from `clock` (token issue and expiry), e.g. a test's manual clock.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.state.clock.lock() = clock;
    }

    /// The lifetime of tokens the token endpoint issues (default 3599 s).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.google.token_lifetime_secs.store(
            lifetime.as_secs().max(1),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Revokes every issued token: Vertex answers 401 to them from now on.
    pub fn revoke_tokens(&self) {
        self.state.google.revoke_tokens();
    }

    /// The service-account JSON of the test account `client_email` in `project_id`,
    /// whose `token_uri` is this upstream's token endpoint.
    pub fn service_account_json(&self, client_email: &str, project_id: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": SERVICE_ACCOUNT_KEY_ID,
            "private_key": SERVICE_ACCOUNT_PRIVATE_KEY,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "token_uri": format!("{}/token", self.url()),
        })
        .to_string()
    }

    /// Uploaded files: (name, owner key, size in bytes).
    pub fn uploaded_files(&self) -> Vec<(String, String, usize)> {
        let mut files: Vec<(String, String, usize)> = self
            .state
            .google
            .files
            .lock()
            .iter()
            .map(|(name, f)| (name.clone(), f.owner.clone(), f.size))
            .collect();
        files.sort();
        files
    }
}

/// `n` failures of `failure`, to queue before a key recovers.
pub fn fail_then_ok(n: usize, failure: Behavior) -> Vec<Behavior> {
    vec![failure; n]
}

/// What a request is, from its method and path.
fn route(method: &http::Method, path: &str) -> Option<Api> {
    if path.contains("/publishers/anthropic/models/")
        && (path.ends_with(":rawPredict") || path.ends_with(":streamRawPredict"))
    {
        Some(Api::VertexAnthropic)
    } else if path.contains("/model/")
        && (path.ends_with("/converse") || path.ends_with("/converse-stream"))
    {
        Some(Api::Bedrock)
    } else if ["/chat/completions", "/embeddings", "/responses"]
        .iter()
        .any(|end| path.ends_with(end))
    {
        Some(Api::OpenAi)
    } else if path.ends_with("/messages") {
        Some(Api::Anthropic)
    } else if [
        ":generateContent",
        ":streamGenerateContent",
        ":embedContent",
        ":batchEmbedContents",
    ]
    .iter()
    .any(|verb| path.contains(verb))
    {
        if path.contains("/publishers/google/models/") {
            Some(Api::Vertex)
        } else {
            Some(Api::Gemini)
        }
    } else if path.starts_with("/upload/")
        || (method == http::Method::GET && path.contains("/files/"))
    {
        Some(Api::Files)
    } else if path == "/token" {
        Some(Api::Token)
    } else if path.ends_with("/oauth2/v2.0/token") {
        Some(Api::EntraToken)
    } else {
        None
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ReplyBody> {
    let path = request.uri().path().to_owned();
    let Some(api) = route(request.method(), &path) else {
        if !state.quiet {
            state.log.lock().push(RecordedRequest {
                api: Api::Unrouted,
                key: String::new(),
                path: path.clone(),
                query: request.uri().query().map(str::to_owned),
                headers: Vec::new(),
                body: serde_json::Value::Null,
                body_len: 0,
                stream: false,
                at_unix_ms: SystemClock.unix_ms(),
            });
        }
        return render::json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": {"message": format!("no route {path}"), "type": "invalid_request_error", "param": null, "code": "not_found"}}),
            &[],
        );
    };
    let query = request.uri().query().map(str::to_owned);
    let is_get = request.method() == http::Method::GET;
    let method = request.method().as_str().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let origin = format!(
        "http://{}",
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
    );
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let now = state.now_ms();
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    let (key, token_answer) = match api {
        Api::Token => {
            let (account, answer) = state.google.token(&origin, &bytes, now);
            (account, Some(answer))
        }
        Api::Bedrock => match bedrock::authenticate(&method, &path, &headers, &bytes, now) {
            Ok(key) => (Some(key), None),
            Err(refusal) => (None, Some(*refusal)),
        },
        Api::VertexAnthropic | Api::Vertex if header("x-goog-api-key").is_none() => {
            match bearer
                .as_deref()
                .and_then(|t| state.google.account_of(t, now))
            {
                Some(account) => (Some(account), None),
                None => (bearer.clone(), Some(gemini::unauthenticated())),
            }
        }
        Api::Gemini | Api::Vertex | Api::VertexAnthropic | Api::Files | Api::Unrouted => {
            (header("x-goog-api-key"), None)
        }
        Api::EntraToken => {
            let (principal, answer) = entra::token(&state.google, &bytes, now);
            (principal, Some(answer))
        }
        Api::OpenAi
            if bearer
                .as_deref()
                .is_some_and(|b| b.starts_with(entra::TOKEN_PREFIX)) =>
        {
            match bearer
                .as_deref()
                .and_then(|t| state.google.account_of(t, now))
            {
                Some(principal) => (Some(principal), None),
                None => (bearer.clone(), Some(entra::unauthorized())),
            }
        }
        Api::OpenAi | Api::Anthropic => (
            bearer
                .clone()
                .or_else(|| header("x-api-key"))
                .or_else(|| header("api-key")),
            None,
        ),
    };
    let stream = match api {
        Api::Gemini | Api::Vertex => path.contains(":streamGenerateContent"),
        Api::VertexAnthropic => path.ends_with(":streamRawPredict"),
        Api::Bedrock => path.ends_with("/converse-stream"),
        _ => body
            .get("stream")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    };
    if !state.quiet {
        state.log.lock().push(RecordedRequest {
            api,
            key: key.clone().unwrap_or_default(),
            path: path.clone(),
            query: query.clone(),
            headers: headers.clone(),
            body: body.clone(),
            body_len: bytes.len(),
            stream,
            at_unix_ms: SystemClock.unix_ms(),
        });
    }
    if let Some(answer) = token_answer {
        return answer;
    }
    let Some(key) = key else {
        return match api {
            Api::OpenAi => openai::error(Behavior::Unauthorized, "missing"),
            Api::Anthropic => anthropic::error(Behavior::Unauthorized, "missing"),
            Api::Vertex | Api::VertexAnthropic => gemini::unauthenticated(),
            Api::Bedrock => bedrock::error_response(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            _ => gemini::error(Behavior::Unauthorized, gemini::Service::Studio),
        };
    };
    if api == Api::Files {
        return if is_get {
            let name = path
                .split_once("/files/")
                .map(|(_, id)| format!("files/{id}"))
                .unwrap_or_default();
            state.google.get_file(&origin, &key, &name)
        } else {
            state
                .google
                .upload(&origin, &key, query.as_deref(), &header, &bytes)
        };
    }
    if matches!(api, Api::Gemini | Api::Vertex) {
        if let Some(refusal) = refuse_gemini(&state, &origin, &key, &body, bytes.len()) {
            return refusal;
        }
    }
    let mut behavior = match state.limited_for(&key, now) {
        Some(left) => Behavior::RateLimited(Some(left)),
        None => match state.spend_budget(&key, now) {
            Some(budgeted) => budgeted,
            None => state.draw(state.next_behavior(&key)),
        },
    };
    if let Behavior::RateLimitedFor(wait) = behavior {
        state.limit(&key, now, wait);
        behavior = Behavior::RateLimited(Some(wait));
    }
    while let Behavior::Latency(wait, inner) = behavior {
        render::pause(wait).await;
        behavior = state.draw(*inner);
    }
    if behavior == Behavior::Reset {
        let mut response = render::json(StatusCode::OK, &serde_json::json!({}), &[]);
        response.extensions_mut().insert(ResetConnection);
        return response;
    }
    if let Behavior::Body(body) = &behavior {
        return render::json(StatusCode::OK, body, &[]);
    }
    let n = state
        .counter
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let exchange = render::Exchange {
        key: &key,
        body: &body,
        stream,
        serial: n,
    };
    match api {
        Api::OpenAi if path.ends_with("/embeddings") => embeddings::openai(&exchange, behavior),
        Api::OpenAi if path.ends_with("/responses") => responses::respond(&exchange, behavior),
        Api::OpenAi => openai::respond(&exchange, behavior),
        Api::Anthropic => anthropic::respond(&exchange, behavior),
        Api::VertexAnthropic => anthropic::respond_on_vertex(&exchange, &path, behavior),
        Api::Bedrock => bedrock::respond(&exchange, behavior),
        Api::Gemini | Api::Vertex => {
            let model = path
                .rsplit_once("/models/")
                .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
                .unwrap_or("unknown-model");
            let service = if api == Api::Vertex {
                gemini::Service::Vertex
            } else {
                gemini::Service::Studio
            };
            if path.contains("mbedContent") || path.contains(":batchEmbedContents") {
                let batch = path.contains(":batchEmbedContents");
                return embeddings::gemini(&exchange, model, behavior, batch);
            }
            gemini::respond(&exchange, model, behavior, service)
        }
        Api::Files | Api::Token | Api::EntraToken | Api::Unrouted => {
            render::json(StatusCode::NOT_FOUND, &serde_json::json!({}), &[])
        }
    }
}

/// Gemini's checks before generating: the body is JSON, within the size limit, and every
/// file it names was uploaded by this key and is `ACTIVE`.
fn refuse_gemini(
    state: &State,
    origin: &str,
    key: &str,
    body: &serde_json::Value,
    size: usize,
) -> Option<Response<ReplyBody>> {
    if size > gemini::MAX_REQUEST_BYTES {
        return Some(gemini::rpc_error(
            400,
            "INVALID_ARGUMENT",
            &format!(
                "Request payload size exceeds the limit: {} bytes.",
                gemini::MAX_REQUEST_BYTES
            ),
            serde_json::json!([]),
        ));
    }
    let contents = body.get("contents").and_then(serde_json::Value::as_array)?;
    for part in contents
        .iter()
        .filter_map(|c| c.get("parts").and_then(serde_json::Value::as_array))
        .flatten()
    {
        if let Some(uri) = part
            .pointer("/fileData/fileUri")
            .and_then(serde_json::Value::as_str)
        {
            if let Some(refusal) = state.google.refuse_file(origin, key, uri) {
                return Some(refusal);
            }
        }
    }
    None
}

impl FakeUpstream {
    /// A config (as JSON) whose `openai`, `anthropic`, `google` and `vertex` providers
    /// point here (Vertex keys also need `metadata`: write those by hand), with one
    /// key per `(id, provider)`; each key's value is [`key_value`]`(id)`. `defaults` is
    /// laid over the config's `defaults`.
    pub fn config(&self, keys: &[(&str, &str)], defaults: serde_json::Value) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|(id, provider)| serde_json::json!({"id": id, "provider": provider, "value": key_value(id)}))
            .collect();
        serde_json::json!({
            "defaults": defaults,
            "providers": {
                "openai": {"base_url": self.base_url()},
                "anthropic": {"base_url": self.base_url()},
                "google": {"base_url": format!("{}/v1beta", self.url())},
                "vertex": {"base_url": self.base_url()}
            },
            "keys": keys
        })
    }

    /// The ids of the keys of every request so far, in order (for keys made with [`FakeUpstream::config`]).
    pub fn ids_called(&self) -> Vec<String> {
        self.keys_called()
            .iter()
            .map(|k| k.strip_prefix("sk-test-").unwrap_or(k).to_owned())
            .collect()
    }
}

/// The value of the test key `id` in configs made by [`FakeUpstream::config`].
pub fn key_value(id: &str) -> String {
    format!("sk-test-{id}")
}
