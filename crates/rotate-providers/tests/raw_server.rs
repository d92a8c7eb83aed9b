//! Against hand-made servers: TLS with a self-signed certificate (HTTP/2 by ALPN), and
//! bad answers (wrong content types, huge and truncated bodies, garbage streams).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, Version};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rotate_core::config::{DefaultsConfig, ProviderConfig, WireApi};
use rotate_core::message::ChatMessage;
use rotate_core::provider::{AdapterFactory, ChatRequest, Provider};
use rotate_core::ErrorKind;
use rotate_providers::{HttpAdapterFactory, HttpClient};
use rotate_testkit::provider_call;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

type Handler = Arc<dyn Fn(Version) -> Response<Full<Bytes>> + Send + Sync>;

async fn serve(tls: Option<tokio_rustls::TlsAcceptor>, handler: Handler) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req.version())) }
                    });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    addr
}

fn ok_body() -> Full<Bytes> {
    Full::new(Bytes::from_static(
        br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"over tls"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
    ))
}

fn adapter(factory: HttpAdapterFactory, base_url: String) -> Arc<dyn Provider> {
    let config = ProviderConfig {
        api: Some(WireApi::Openai),
        base_url: Some(base_url),
        ..ProviderConfig::default()
    };
    let defaults = DefaultsConfig {
        request_timeout_seconds: 5,
        stream_idle_timeout_seconds: 2,
        ..DefaultsConfig::default()
    };
    factory.adapter("raw", &config, &defaults).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn tls_with_a_trusted_self_signed_certificate_and_http2() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key_der)
    .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let seen = Arc::new(parking_lot_free::Seen::default());
    let seen_in = seen.clone();
    let handler: Handler = Arc::new(move |version| {
        seen_in.record(version);
        Response::builder()
            .header("content-type", "application/json")
            .body(ok_body())
            .unwrap()
    });
    let addr = serve(
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))),
        handler,
    )
    .await;

    let trusted = HttpAdapterFactory::default().with_client(
        HttpClient::builder()
            .add_root_certificate(cert_der)
            .only_added_roots(),
    );
    let reply = adapter(trusted, format!("https://127.0.0.1:{}/v1", addr.port()))
        .chat(provider_call("raw", "m", "k", request(), &[]))
        .await
        .unwrap();
    assert_eq!(reply.content, "over tls");
    assert_eq!(seen.versions(), vec![Version::HTTP_2]);

    let untrusted = adapter(
        HttpAdapterFactory::default(),
        format!("https://127.0.0.1:{}/v1", addr.port()),
    );
    let err = untrusted
        .chat(provider_call("raw", "m", "k", request(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network, "{err}");
}

mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Seen(Mutex<Vec<http::Version>>);

    impl Seen {
        pub fn record(&self, v: http::Version) {
            self.0.lock().unwrap().push(v);
        }
        pub fn versions(&self) -> Vec<http::Version> {
            self.0.lock().unwrap().clone()
        }
    }
}

#[tokio::test]
async fn wrong_content_types_and_huge_bodies_are_decode_errors() {
    let handler: Handler = Arc::new(|_| {
        Response::builder()
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from_static(b"<html>maintenance</html>")))
            .unwrap()
    });
    let addr = serve(None, handler).await;
    let html = adapter(HttpAdapterFactory::default(), format!("http://{addr}/v1"));
    assert_eq!(
        html.chat(provider_call("raw", "m", "k", request(), &[]))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Decode
    );
    assert_eq!(
        html.chat_stream(provider_call("raw", "m", "k", request(), &[]))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Decode
    );

    let huge = Bytes::from(vec![b' '; 40 * 1024 * 1024]);
    let handler: Handler = Arc::new(move |_| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(huge.clone()))
            .unwrap()
    });
    let addr = serve(None, handler).await;
    let big = adapter(HttpAdapterFactory::default(), format!("http://{addr}/v1"));
    let err = big
        .chat(provider_call("raw", "m", "k", request(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Decode, "{err}");
}

#[tokio::test]
async fn garbage_streams_and_truncated_bodies() {
    let handler: Handler = Arc::new(|_| {
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Full::new(Bytes::from_static(
                b"\x00\xff\xfe garbage\r\n\r\ndata: {not json\n\n",
            )))
            .unwrap()
    });
    let addr = serve(None, handler).await;
    let garbage = adapter(HttpAdapterFactory::default(), format!("http://{addr}/v1"));
    let start = garbage
        .chat_stream(provider_call("raw", "m", "k", request(), &[]))
        .await
        .unwrap();
    let items: Vec<_> = start.events.collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap_err().kind, ErrorKind::Decode);

    // a body shorter than its Content-Length, then the connection closes
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
            let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"choices\":[").await;
            let _ = tcp.shutdown().await;
        }
    });
    let truncated = adapter(HttpAdapterFactory::default(), format!("http://{addr}/v1"));
    let err = truncated
        .chat(provider_call("raw", "m", "k", request(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network, "{err}");
}
