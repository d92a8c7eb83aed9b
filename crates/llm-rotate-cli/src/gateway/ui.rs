//! The live dashboard: `GET /ui` (the page, or a sign-in form), `POST /ui/login` and
//! `/ui/logout`, `GET /ui/state` (what the page polls each second), and the embedded
//! `app.js` and `app.css` (no external URL; a strict Content-Security-Policy).
//!
//! Signing in takes an admin token and sets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, 12 hours, kept in this process only). The page's buttons call the
//! admin routes with that cookie and an `x-llm-rotate-ui` header, which a page of another
//! origin cannot send, so the cookie alone never authorises a change.

mod history;

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use llm_rotate::{Clock, SystemClock};
use parking_lot::Mutex;

pub use self::history::History;
use super::http::{bytes_response, json_response, ApiError, Body, Dialect};
use super::Gateway;

impl Gateway {
    /// Serves a `/ui` route.
    pub(super) async fn dashboard(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path();
        let get = request.method() == Method::GET;
        if get {
            if let Some(asset) = asset(path) {
                return asset;
            }
        }
        match (request.method(), path) {
            (&Method::GET, "/ui" | "/ui/") => page(self.is_operator(request.headers())),
            (&Method::GET, "/ui/state") => {
                if !self.is_operator(request.headers()) {
                    return super::unauthorized().into_response(Dialect::OpenAi);
                }
                let health = self.client.health().await;
                let usage = self.client.usage_summary().await;
                state(&health, &usage, &self.history)
            }
            (&Method::POST, "/ui/login") => match self.read_body(request).await {
                Ok(body) => {
                    let admins = &self.settings.load().admin_tokens;
                    login(&self.sessions, &body, |token| {
                        super::http::token_matches(Some(token), admins)
                    })
                }
                Err(e) => e.into_response(Dialect::OpenAi),
            },
            (&Method::POST, "/ui/logout") => logout(&self.sessions, request.headers()),
            _ => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "not_found",
                format!("Unknown route {path}."),
            )
            .into_response(Dialect::OpenAi),
        }
    }

    /// An admin bearer token, or a signed-in session (reading only: see
    /// [`Gateway::may_administer`] for changes).
    fn is_operator(&self, headers: &HeaderMap) -> bool {
        let settings = self.settings.load();
        super::http::token_matches(
            super::http::presented_token(headers),
            &settings.admin_tokens,
        ) || self.sessions.signed_in(headers, now_ms())
    }

    /// An admin bearer token, or a signed-in session asking from the dashboard itself.
    pub(super) fn may_administer(&self, headers: &HeaderMap) -> bool {
        let settings = self.settings.load();
        super::http::token_matches(
            super::http::presented_token(headers),
            &settings.admin_tokens,
        ) || (from_page(headers) && self.sessions.signed_in(headers, now_ms()))
    }

    /// Samples health and usage into the dashboard's history once a second, for as long
    /// as the gateway runs.
    pub(super) async fn sample_history(gateway: std::sync::Weak<Gateway>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            let health = gateway.client.health().await;
            let usage = gateway.client.usage_summary().await;
            gateway.history.observe(now_ms(), &health, &usage);
        }
    }
}

const PAGE: &str = include_str!("ui/index.html");
const LOGIN: &str = include_str!("ui/login.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

/// The session cookie's name.
const COOKIE: &str = "llm_rotate_session";
/// How long a session lasts.
const SESSION_MS: u64 = 12 * 3_600_000;
/// The header the page sends with every change it asks for.
const UI_HEADER: &str = "x-llm-rotate-ui";

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Signed-in sessions: random ids and when each ends.
#[derive(Default)]
pub struct Sessions {
    ends: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    /// Starts a session and gives its id (256 random bits, hex).
    fn start(&self, now_ms: u64) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut ends = self.ends.lock();
        ends.retain(|_, end| *end > now_ms);
        ends.insert(id.clone(), now_ms + SESSION_MS);
        Ok(id)
    }

    /// Whether `headers` carry the cookie of a live session.
    fn signed_in(&self, headers: &HeaderMap, now_ms: u64) -> bool {
        session_id(headers)
            .is_some_and(|id| self.ends.lock().get(id).is_some_and(|end| *end > now_ms))
    }

    fn end(&self, headers: &HeaderMap) {
        if let Some(id) = session_id(headers) {
            self.ends.lock().remove(id);
        }
    }
}

/// The session id in the request's cookies.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether a cookie-authenticated request also carries the page's header (so it came
/// from the dashboard, not from a form of another site).
fn from_page(headers: &HeaderMap) -> bool {
    headers.contains_key(UI_HEADER)
}

fn now_ms() -> u64 {
    SystemClock.unix_ms()
}

/// A dashboard response: no caching, no framing, no sniffing, the strict policy.
fn guarded(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", POLICY),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn html(status: StatusCode, page: String) -> Response<Body> {
    guarded(bytes_response(
        status,
        "text/html; charset=utf-8",
        Bytes::from(page),
    ))
}

/// `GET /ui`: the dashboard when signed in (or with an admin bearer token), else the form.
fn page(signed_in: bool) -> Response<Body> {
    if signed_in {
        html(StatusCode::OK, PAGE.to_owned())
    } else {
        login_form(StatusCode::OK, None)
    }
}

fn login_form(status: StatusCode, message: Option<&str>) -> Response<Body> {
    let message = message.map_or_else(String::new, |m| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(m))
    });
    html(status, LOGIN.replace("<!--message-->", &message))
}

/// `GET /ui/app.js` and `/ui/app.css`.
fn asset(path: &str) -> Option<Response<Body>> {
    let (kind, text) = match path {
        "/ui/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/ui/app.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    Some(guarded(bytes_response(
        StatusCode::OK,
        kind,
        Bytes::from_static(text.as_bytes()),
    )))
}

/// `POST /ui/login` with the form's body: a session cookie and a redirect to the page
/// when `token` is an admin token (`is_admin` decides), else the form again with 401.
fn login(sessions: &Sessions, body: &[u8], is_admin: impl Fn(&[u8]) -> bool) -> Response<Body> {
    let token = form_field(body, "token").unwrap_or_default();
    if !is_admin(token.as_bytes()) {
        return login_form(
            StatusCode::UNAUTHORIZED,
            Some("That is not an admin token."),
        );
    }
    let Ok(id) = sessions.start(now_ms()) else {
        return login_form(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("No session could be started: the system has no randomness to give."),
        );
    };
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_MS / 1000
    );
    redirect(&cookie)
}

/// `POST /ui/logout`: ends the session and clears the cookie.
fn logout(sessions: &Sessions, headers: &HeaderMap) -> Response<Body> {
    sessions.end(headers);
    redirect(&format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    ))
}

fn redirect(cookie: &str) -> Response<Body> {
    let mut response = html(StatusCode::SEE_OTHER, String::new());
    let headers = response.headers_mut();
    headers.insert(http::header::LOCATION, HeaderValue::from_static("/ui"));
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.insert(http::header::SET_COOKIE, value);
    }
    response
}

/// `GET /ui/state`: health, usage, the last hour's charts and recent failures.
fn state(
    health: &llm_rotate::HealthReport,
    usage: &llm_rotate::UsageSummary,
    history: &History,
) -> Response<Body> {
    let now = now_ms();
    guarded(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "health": health,
            "usage": usage,
            "series": history.charts(now),
            "failures": history.failures(),
        }),
    ))
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            let value = value.replace('+', " ");
            percent_encoding::percent_decode_str(&value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_of(response: &Response<Body>) -> String {
        let set = response.headers()[http::header::SET_COOKIE]
            .to_str()
            .unwrap();
        set.split(';').next().unwrap().to_owned()
    }

    #[test]
    fn an_admin_token_starts_a_session_and_others_do_not() {
        let sessions = Sessions::default();
        let admin = |t: &[u8]| t == b"adm+in token";
        let refused = login(&sessions, b"token=nope", admin);
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(!refused.headers().contains_key(http::header::SET_COOKIE));
        // form encoding: `+` is a space, `%2B` a plus
        let ok = login(&sessions, b"token=adm%2Bin+token", admin);
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        let set = ok.headers()[http::header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {}", cookie_of(&ok))).unwrap(),
        );
        assert!(sessions.signed_in(&headers, now_ms()));
        assert!(!sessions.signed_in(&headers, now_ms() + SESSION_MS));
        let _ = logout(&sessions, &headers);
        assert!(!sessions.signed_in(&headers, now_ms()));
        let mut forged = HeaderMap::new();
        forged.insert(
            http::header::COOKIE,
            HeaderValue::from_static("llm_rotate_session=00"),
        );
        assert!(!sessions.signed_in(&forged, now_ms()));
    }

    #[test]
    fn pages_are_self_contained_and_escape_what_they_show() {
        for text in [PAGE, LOGIN, SCRIPT, STYLE] {
            assert!(!text.contains("http://") || text.contains("http://www.w3.org/2000/svg"));
            assert!(!text.contains("https://"), "no external URL");
        }
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
        assert_eq!(
            escape_html("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        let page = page(true);
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(asset("/ui/app.js").is_some() && asset("/ui/other.js").is_none());
    }
}
