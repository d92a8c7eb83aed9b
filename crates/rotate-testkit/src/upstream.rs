//! A fake vendor upstream: a real HTTP server on 127.0.0.1 speaking the OpenAI and
//! Anthropic protocols as the vendors document them (bodies, SSE framing, usage chunks,
//! error bodies, rate-limit headers), with behaviour scripted per API key and a log of
//! every request.
//!
//! Routes: `POST …/chat/completions` (OpenAI, and Azure's deployment form with an
//! `api-key` header) and `POST …/messages` (Anthropic). The key comes from
//! `Authorization: Bearer`, `api-key` or `x-api-key`. Each key plays its queued
//! [`Behavior`]s one per request, then its default (a success naming the key).

mod anthropic;
mod openai;
mod render;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
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
}

/// Which protocol a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions (Azure included).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
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

#[derive(Debug, Default)]
struct State {
    quiet: bool,
    scripts: Mutex<HashMap<String, VecDeque<Behavior>>>,
    defaults: Mutex<HashMap<String, Behavior>>,
    log: Mutex<Vec<RecordedRequest>>,
    counter: std::sync::atomic::AtomicU64,
}

impl State {
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
                        async move { Ok::<_, Infallible>(handle(state, request).await) }
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

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.log.lock().clone()
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
}

/// `n` failures of `failure`, to queue before a key recovers.
pub fn fail_then_ok(n: usize, failure: Behavior) -> Vec<Behavior> {
    vec![failure; n]
}

fn key_of(request: &Request<Incoming>) -> Option<String> {
    let headers = request.headers();
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    get("authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        .or_else(|| get("x-api-key"))
        .or_else(|| get("api-key"))
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ReplyBody> {
    let path = request.uri().path().to_owned();
    let api = if path.ends_with("/chat/completions") {
        Api::OpenAi
    } else if path.ends_with("/messages") {
        Api::Anthropic
    } else {
        return render::json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": {"message": format!("no route {path}"), "type": "invalid_request_error", "param": null, "code": "not_found"}}),
            &[],
        );
    };
    let query = request.uri().query().map(str::to_owned);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let key = key_of(&request);
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let stream = body
        .get("stream")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let Some(key) = key else {
        return match api {
            Api::OpenAi => openai::error(Behavior::Unauthorized, "missing"),
            Api::Anthropic => anthropic::error(Behavior::Unauthorized, "missing"),
        };
    };
    if !state.quiet {
        state.log.lock().push(RecordedRequest {
            api,
            key: key.clone(),
            path,
            query,
            headers,
            body: body.clone(),
            stream,
            at_unix_ms: SystemClock.unix_ms(),
        });
    }
    let mut behavior = state.next_behavior(&key);
    while let Behavior::Latency(wait, inner) = behavior {
        render::pause(wait).await;
        behavior = *inner;
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
        Api::OpenAi => openai::respond(&exchange, behavior),
        Api::Anthropic => anthropic::respond(&exchange, behavior),
    }
}

impl FakeUpstream {
    /// A config (as JSON) whose `openai` and `anthropic` providers point here, with one
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
                "anthropic": {"base_url": self.base_url()}
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
