//! The dashboard end to end, in headless Chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`, installed when missing): sign in with the admin
//! token, see a key's row turn to cooling down without a reload, disable a key with its
//! button and find it disabled in `/health`, and see a key id and an upstream message
//! holding HTML shown as text. A screenshot goes to `target/dashboard.png`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, ADMIN, TOKEN};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// A key id with markup in it: it must show as these characters.
const HTML_KEY: &str = "<b>bold</b>";

/// Installs Debian's Chromium and its driver when they are missing.
fn ensure_chromium() {
    if Path::new(CHROMIUM).exists() && Path::new(DRIVER).exists() {
        return;
    }
    for args in [
        &["update", "-q"][..],
        &["install", "-y", "-q", "chromium", "chromium-driver"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("apt-get runs");
        assert!(status.success(), "apt-get {args:?} failed");
    }
}

/// `chromedriver` on a free port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::disallowed_methods)] // polls a real browser and a real driver process
async fn pause() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: Client::builder(TokioExecutor::new()).build_http(),
        };
        for _ in 0..100 {
            if let Some(status) = driver.try_call(Method::GET, "/status", None).await {
                if status["value"]["ready"] == true {
                    return driver;
                }
            }
            pause().await;
        }
        panic!("chromedriver did not start");
    }

    async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let response = self.http.request(request).await.ok()?;
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.try_call(method, path, body).await.unwrap();
        assert!(answer["value"].get("error").is_none(), "{path}: {answer}");
        answer["value"].clone()
    }
}

/// One browser session.
struct Browser<'a> {
    driver: &'a Driver,
    id: String,
}

impl Browser<'_> {
    async fn open<'d>(driver: &'d Driver, profile: &Path) -> Browser<'d> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let session = driver
            .call(Method::POST, "/session", Some(capabilities))
            .await;
        Browser {
            driver,
            id: session["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .await
    }

    async fn go(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs `script` until it returns something truthy (10 s at most).
    async fn wait_for(&self, what: &str, script: &str) -> Value {
        for _ in 0..100 {
            let value = self.script(script).await;
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") {
                return value;
            }
            pause().await;
        }
        let page = self.script("return document.body.innerText").await;
        panic!("waited in vain for {what}; the page shows:\n{page}");
    }

    async fn close(self) {
        self.call(Method::DELETE, "", None).await;
    }
}

/// A script expression: the text of key `id`'s row in column `column`, or null.
fn cell(id: &str, column: usize) -> String {
    let id = serde_json::to_string(id).unwrap();
    format!(
        "(() => {{ const row = [...document.querySelectorAll('#keys tbody tr')].find(r => r.dataset.key === {id}); return row ? row.cells[{column}].textContent : null; }})()"
    )
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

async fn admin_post(gateway: &GatewayProcess, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}{path}", gateway.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    response.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_keys_live_and_disables_one() {
    ensure_chromium();
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(
        &upstream,
        &[("a", "openai"), ("b", "openai"), (HTML_KEY, "openai")],
    ));
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path()).await;

    // the page asks for the admin token first
    browser.go(&format!("{}/ui", gateway.url)).await;
    let field = browser.element("#token").await;
    browser
        .call(
            Method::POST,
            &format!("/element/{field}/value"),
            Some(json!({"text": ADMIN})),
        )
        .await;
    let submit = browser.element("button[type=submit]").await;
    browser
        .call(
            Method::POST,
            &format!("/element/{submit}/click"),
            Some(json!({})),
        )
        .await;
    browser
        .wait_for(
            "the key rows",
            &format!("return {} === 'healthy'", cell("b", 2)),
        )
        .await;
    let shown = browser
        .script(&format!("return {}", cell(HTML_KEY, 0)))
        .await;
    assert_eq!(shown, json!(HTML_KEY));
    browser
        .script("window.stillThisPage = true; return 1")
        .await;

    // b is rate limited for a minute; the markup key fails with markup in its message
    upstream.set_default(
        "sk-test-b",
        Behavior::RateLimited(Some(Duration::from_secs(60))),
    );
    upstream.set_default(
        &format!("sk-test-{HTML_KEY}"),
        Behavior::ErrorSaying(500, "upstream said <img src=x id=pwned>".to_owned()),
    );
    let ask = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..4 {
        let (status, _, body) = gateway.post_json("/v1/chat/completions", &ask).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let state = browser
        .wait_for(
            "b cooling down",
            &format!(
                "const s = {}; return s && s.startsWith('cooling down') ? s : null",
                cell("b", 2)
            ),
        )
        .await;
    assert!(
        state.as_str().unwrap().contains('s'),
        "a countdown: {state}"
    );
    assert_eq!(
        browser.script("return window.stillThisPage === true").await,
        json!(true),
        "the row changed without a reload"
    );
    // the failure's message holds markup: it shows as text, and no element came of it
    let failures = browser
        .wait_for(
            "the failure listed",
            "const t = document.querySelector('#failures tbody').textContent; return t.includes('<img') ? t : null;",
        )
        .await;
    assert!(failures.as_str().unwrap().contains("pwned"), "{failures}");
    assert_eq!(
        browser
            .script("return [document.getElementById('pwned'), document.querySelector('#keys b'), document.querySelector('#failures img')].every(e => e === null)")
            .await,
        json!(true),
        "markup from a key id or a message never becomes elements"
    );

    // the admin routes take the session only from the page itself
    let cookie = browser
        .call(Method::GET, "/cookie/llm_rotate_session", None)
        .await;
    let cookie = format!("llm_rotate_session={}", cookie["value"].as_str().unwrap());
    let path = "/admin/keys/a/disable";
    assert_eq!(
        admin_post(&gateway, path, &[]).await,
        StatusCode::UNAUTHORIZED
    );
    let client_token = format!("Bearer {TOKEN}");
    assert_eq!(
        admin_post(&gateway, path, &[("authorization", &client_token)]).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin_post(&gateway, path, &[("cookie", &cookie)]).await,
        StatusCode::UNAUTHORIZED,
        "a cookie without the page's header is refused"
    );

    // the Disable button of a
    let button = browser.element("#keys tbody tr[data-key='a'] button").await;
    browser
        .call(
            Method::POST,
            &format!("/element/{button}/click"),
            Some(json!({})),
        )
        .await;
    browser
        .wait_for(
            "a disabled",
            &format!("return {} === 'disabled (operator)'", cell("a", 2)),
        )
        .await;
    let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    let health: Value = serde_json::from_slice(&health).unwrap();
    let a = health["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == "a")
        .unwrap();
    assert_eq!(a["state"], "disabled", "{a}");
    assert_eq!(a["disabled_reason"], "operator");

    let shot = browser.call(Method::GET, "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(target_dir().join("dashboard.png"), png).unwrap();
    browser.close().await;
}
