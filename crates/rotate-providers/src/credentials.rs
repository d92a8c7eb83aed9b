//! [`Credentials`]: how a key's credentials go on a request its protocol built, when
//! that is more than a header from the key's value: a bearer token fetched and cached
//! per key (Claude on Vertex, Azure's Entra ID), or a signature over the whole request
//! (AWS SigV4 on Bedrock). The [`Adapter`](crate::Adapter) puts them on last, just
//! before sending, and after a 401 asks once whether a fresh credential is worth a retry.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::error::ProviderError;
use rotate_core::provider::{BoxFuture, KeyInfo};

/// Puts a key's credentials on a request.
pub trait Credentials: Send + Sync + 'static {
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
