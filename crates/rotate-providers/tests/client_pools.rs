//! The HTTP client's connection pools: one per thread, each reused by that thread's
//! later requests, and a pool whose connections died with their runtime heals itself.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rotate_providers::HttpClient;

/// A server on its own thread and runtime that counts the connections it accepts.
fn server() -> (String, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(|_: Request<hyper::body::Incoming>| async {
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
    });
    (format!("http://{}/", rx.recv().unwrap()), accepted)
}

/// Sends `count` requests one after another on a fresh single-threaded runtime.
fn call(client: &HttpClient, url: &str, count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for _ in 0..count {
            let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
            let (parts, body) = client
                .exchange(request, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(parts.status, 200);
            assert_eq!(&body[..], b"ok");
        }
    });
}

#[test]
fn each_thread_reuses_its_own_connection() {
    let (url, accepted) = server();
    let client = HttpClient::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exchange = |client: &HttpClient| {
        let request = Request::get(&url).body(Full::new(Bytes::new())).unwrap();
        runtime
            .block_on(client.exchange(request, Duration::from_secs(5)))
            .unwrap()
    };
    for _ in 0..3 {
        exchange(&client);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection, reused");
    std::thread::scope(|scope| {
        scope.spawn(|| call(&client, &url, 3));
    });
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "another thread opens its own connection, once"
    );
    for _ in 0..3 {
        exchange(&client);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "the first thread still reuses its connection"
    );
}

#[test]
fn connections_left_by_a_dropped_runtime_are_replaced() {
    let (url, accepted) = server();
    let client = HttpClient::default();
    // the first runtime opens a connection, then goes away with the task that drove it
    call(&client, &url, 2);
    // a new runtime on the same thread gets a working connection, not the dead one
    call(&client, &url, 2);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
