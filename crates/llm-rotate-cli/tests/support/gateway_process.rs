//! Starting the `llm-rotate serve` binary in front of a fake upstream, and a small HTTP
//! client for talking to it.
#![allow(dead_code, clippy::unwrap_used)] // shared by several test binaries

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rotate_testkit::FakeUpstream;
use serde_json::{json, Value};

pub const TOKEN: &str = "gw-test-token-1";
pub const ADMIN: &str = "gw-admin-token-1";

/// A running gateway process; killed when dropped. Derefs to its [`GatewayClient`].
pub struct GatewayProcess {
    pub client: GatewayClient,
    pub child: Child,
    pub config_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config whose providers point at `upstream`, with keys `(id, provider)`, gateway
/// tokens and a 64 KiB body limit.
pub fn config(upstream: &FakeUpstream, keys: &[(&str, &str)]) -> Value {
    let mut config = upstream.config(keys, json!({"selection_strategy": "round_robin"}));
    config["gateway"] = json!({
        "tokens": [TOKEN],
        "admin_tokens": [ADMIN],
        "max_body_bytes": 65536,
        "header_read_timeout_seconds": 1,
        "drain_timeout_seconds": 10
    });
    config
}

impl GatewayProcess {
    /// Writes `config` to a file and starts `llm-rotate serve` on a free port.
    pub fn start(config: &Value) -> Self {
        Self::start_with_env(config, &[])
    }

    /// [`start`](Self::start), with these environment variables set for the process.
    pub fn start_with_env(config: &Value, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("llm-rotate.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-rotate"))
            .envs(env.iter().copied())
            .args(["serve", "--config"])
            .arg(&config_path)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "gateway did not start: `{line}`"
        );
        Self {
            client: GatewayClient { url },
            child,
            config_path,
            _dir: dir,
        }
    }

    /// A client for a gateway at `url`.
    pub fn client_only(url: &str) -> GatewayClient {
        GatewayClient {
            url: url.to_owned(),
        }
    }

    /// Rewrites the config file (for reload tests).
    pub fn rewrite(&self, config: &Value) {
        std::fs::write(&self.config_path, config.to_string()).unwrap();
    }
}

impl std::ops::Deref for GatewayProcess {
    type Target = GatewayClient;
    fn deref(&self) -> &GatewayClient {
        &self.client
    }
}

/// Talks HTTP to a gateway.
pub struct GatewayClient {
    pub url: String,
}

impl GatewayClient {
    /// Sends a request; `token` goes in `Authorization: Bearer`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<Bytes>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        self.send_with(method, path, token, &[], body).await
    }

    /// Sends a request with extra `headers`; `token` goes in `Authorization: Bearer`.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = client
            .request(request.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, bytes)
    }

    /// POSTs JSON with the gateway token and parses the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
        let (status, headers, bytes) = self
            .send(Method::POST, path, Some(TOKEN), body.to_string())
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }
}
