//! [`Credentials`]: how a key's credentials go on a request its protocol built, when
//! that is more than a header from the key's value: a bearer token fetched and cached
//! per key (Claude on Vertex, Azure's Entra ID), or a signature over the whole request
//! (AWS SigV4 on Bedrock). The [`Adapter`](crate::Adapter) puts them on last, just
//! before sending, and after a 401 asks once whether a fresh credential is worth a retry.
//! [`TokenCell`] caches one credential's bearer token for the token flows.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::error::ProviderError;
use rotate_core::provider::{BoxFuture, KeyInfo};

/// Puts a key's credentials on a request.
pub trait Credentials: Send + Sync + 'static {
    /// True when `key` needs these credentials; any other key's request goes as its
    /// protocol built it (nothing copied for a retry). The default says every key does.
    fn wants(&self, key: &KeyInfo) -> bool {
        let _ = key;
        true
    }

    /// Adds `key`'s credentials to `request` (the request is otherwise complete).
    fn authorize<'a>(
        &'a self,
        key: &'a Arc<KeyInfo>,
        request: &'a mut Request<Full<Bytes>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Called after the vendor answered 401 to a request `authorize` prepared: drops
    /// what is cached for `key` and says whether a retry with fresh credentials can
    /// help. The default says no.
    fn refused(&self, key: &Arc<KeyInfo>) -> bool {
        let _ = key;
        false
    }
}

/// Sets `Authorization: Bearer {token}` on `request` (a sensitive header).
pub fn set_bearer(request: &mut Request<Full<Bytes>>, token: &str) -> Result<(), ProviderError> {
    let bearer = crate::request::secret_header(&format!("Bearer {token}"))?;
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, bearer);
    Ok(())
}

/// A copy of `request` (method, URI, version, headers and body), to send again.
pub fn copy_request(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The bytes of a request's body (a `Full` body is one buffer).
pub fn body_bytes(request: &Request<Full<Bytes>>) -> Bytes {
    use hyper::body::Body as _;
    // a `Full` body is ready at once and cannot fail; its one frame is the whole body
    let mut body = request.body().clone();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// A bearer token and when it stops being used (ms since the epoch).
#[derive(Clone)]
pub struct Token {
    /// The `Authorization` header value's secret part.
    pub value: rotate_core::secret::Secret,
    /// Replace it from this time on.
    pub refresh_at_ms: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("refresh_at_ms", &self.refresh_at_ms)
            .finish_non_exhaustive()
    }
}

/// One credential's cached bearer token: handed out while fresh, fetched again by
/// exactly one caller (the others wait for its answer) once it is due.
#[derive(Default)]
pub struct TokenCell {
    cached: std::sync::Mutex<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCell").finish_non_exhaustive()
    }
}

impl TokenCell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Token>> {
        // the guarded value is replaced whole, so a panic elsewhere cannot leave it torn
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh(&self, now_ms: u64) -> Option<Token> {
        self.lock()
            .as_ref()
            .filter(|t| now_ms < t.refresh_at_ms)
            .cloned()
    }

    /// The cached token while `now_ms()` is before its refresh time, else the one
    /// `fetch` brings (fetched once however many callers ask at the same time).
    pub async fn get<F, Fut>(
        &self,
        now_ms: impl Fn() -> u64,
        fetch: F,
    ) -> Result<Token, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Token, ProviderError>>,
    {
        if let Some(token) = self.fresh(now_ms()) {
            return Ok(token);
        }
        let _turn = self.refresh.lock().await;
        if let Some(token) = self.fresh(now_ms()) {
            return Ok(token);
        }
        let token = fetch().await?;
        *self.lock() = Some(token.clone());
        Ok(token)
    }

    /// Forgets `token` (after a 401), unless a newer one already replaced it.
    pub fn invalidate(&self, token: &Token) {
        let mut cached = self.lock();
        if cached
            .as_ref()
            .is_some_and(|c| c.value.expose() == token.value.expose())
        {
            *cached = None;
        }
    }

    /// Forgets the cached token, whichever it is.
    pub fn forget(&self) {
        *self.lock() = None;
    }
}
