//! The pooled HTTP client each provider owns: hyper 1 over hyper-rustls (ring provider,
//! webpki roots), HTTP/1.1 and HTTP/2 chosen by ALPN.
//!
//! Each thread that sends gets its own connection pool. A pooled connection is driven
//! by a task spawned where it was opened, so a pool shared by all threads would hand a
//! request on one thread a connection whose task runs on another, and every exchange
//! would wake a second thread. With a pool per thread, a single-threaded runtime (the
//! gateway runs one per core) never crosses threads, and a multi-threaded one mostly
//! keeps a request and its connection on the same worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{future, FutureExt};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rotate_core::error::{ErrorKind, ProviderError};
use rustls::pki_types::CertificateDer;

/// The largest non-streamed response body read (bigger ones are a `Decode` error).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A pooled HTTPS/HTTP client. Cheap to clone; clones share the pools (one per thread).
#[derive(Clone)]
pub struct HttpClient {
    pools: Arc<Pools>,
}

struct Pools {
    connector: HttpsConnector<HttpConnector>,
    per_thread: thread_local::ThreadLocal<Pool>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

/// Builds an [`HttpClient`].
#[derive(Debug, Default, Clone)]
pub struct HttpClientBuilder {
    extra_roots: Vec<CertificateDer<'static>>,
    only_extra_roots: bool,
}

impl HttpClientBuilder {
    /// Trusts `certificate` (DER) in addition to the webpki roots.
    pub fn add_root_certificate(mut self, certificate: CertificateDer<'static>) -> Self {
        self.extra_roots.push(certificate);
        self
    }

    /// Trusts only the certificates added with [`add_root_certificate`](Self::add_root_certificate).
    pub fn only_added_roots(mut self) -> Self {
        self.only_extra_roots = true;
        self
    }

    /// Builds the client.
    pub fn build(self) -> HttpClient {
        let mut roots = rustls::RootCertStore::empty();
        if !self.only_extra_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for certificate in self.extra_roots {
            if let Err(error) = roots.add(certificate) {
                tracing::warn!(%error, "ignoring an invalid root certificate");
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the safe default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        HttpClient {
            pools: Arc::new(Pools {
                connector,
                per_thread: thread_local::ThreadLocal::new(),
            }),
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl HttpClient {
    /// A builder (webpki roots by default).
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }

    /// This thread's pool.
    fn pool(&self) -> &Pool {
        self.pools.per_thread.get_or(|| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(256)
                .build(self.pools.connector.clone())
        })
    }

    /// Sends `request`; `timeout` bounds the wait for the response head.
    pub fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Response<Incoming>, ProviderError>> + Send + '_ {
        // built of combinators rather than an `async` block, so the request is not held
        // beside the future it moved into (this future is part of every call's); the
        // pool and the timer are taken at the first poll, on the thread that polls
        let uri = request.uri().clone();
        future::lazy(move |_| tokio::time::timeout(timeout, self.pool().request(request)))
            .flatten()
            .map(move |outcome| match outcome {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(error)) => Err(request_failed(&uri, &error)),
                Err(_) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "no response from {} within {} ms",
                        shown_target(&uri),
                        timeout.as_millis()
                    ),
                )),
            })
    }

    /// Sends `request` and reads the whole answer (at most [`MAX_BODY_BYTES`]), all
    /// within `timeout`.
    pub fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> impl Future<Output = Result<(http::response::Parts, Bytes), ProviderError>> + Send + '_
    {
        // the target is written out only when an error names it
        let uri = request.uri().clone();
        let whole = move |_: &mut std::task::Context<'_>| {
            let response = self.pool().request(request);
            let read = async move {
                let (parts, body) = response.await.map_err(Failed::Request)?.into_parts();
                let body = collect_limited(body).await.map_err(Failed::Body)?;
                Ok((parts, body))
            };
            tokio::time::timeout(timeout, read)
        };
        future::lazy(whole)
            .flatten()
            .map(move |outcome| match outcome {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(Failed::Request(error))) => Err(request_failed(&uri, &error)),
                Ok(Err(Failed::Body(error))) => Err(error),
                Err(_) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "no complete answer from {} within {} ms",
                        shown_target(&uri),
                        timeout.as_millis()
                    ),
                )),
            })
    }
}

/// Why an exchange failed before its timeout: the request, or reading the body.
enum Failed {
    Request(hyper_util::client::legacy::Error),
    Body(ProviderError),
}

/// The `Network` error of a request to `uri` that could not be sent or answered.
fn request_failed(uri: &http::Uri, error: &hyper_util::client::legacy::Error) -> ProviderError {
    ProviderError::new(
        ErrorKind::Network,
        format!(
            "request to {} failed: {}",
            shown_target(uri),
            error_chain(error)
        ),
    )
}

async fn collect_limited(body: Incoming) -> Result<Bytes, ProviderError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ProviderError::new(
            ErrorKind::Decode,
            format!("the response body exceeded {MAX_BODY_BYTES} bytes"),
        )),
        Err(error) => Err(body_failed(error)),
    }
}

/// A body that broke off while it was read.
fn body_failed(error: Box<dyn std::error::Error + Send + Sync>) -> ProviderError {
    ProviderError::new(ErrorKind::Network, "reading the response body failed").with_source(error)
}

/// Reads a whole body, at most [`MAX_BODY_BYTES`], within `timeout`.
pub async fn read_body(body: Incoming, timeout: Duration) -> Result<Bytes, ProviderError> {
    let limited = Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ProviderError::new(
                ErrorKind::Decode,
                format!("the response body exceeded {MAX_BODY_BYTES} bytes"),
            ))
        }
        Ok(Err(error)) => Err(body_failed(error)),
        Err(_) => Err(ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "the response body did not arrive within {} ms",
                timeout.as_millis()
            ),
        )),
    }
}

/// `scheme://host/path` of a URI, never its query (which may hold a key).
pub fn shown_target(uri: &http::Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    )
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
