//! `llm-rotate relay --to URL` (hidden): the smallest HTTP proxy this binary's stack can
//! make, for the gateway benchmark's baseline. Each request goes to `URL` as it came
//! (same method, path, headers and body, streamed) and its answer comes back as it
//! came: no parsing, no rotation, no metrics. The gap between it and a direct call is
//! what two HTTP exchanges through hyper cost on the machine; the gap between it and
//! `serve` is what the gateway itself adds.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use http::uri::{Authority, Scheme, Uri};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use llm_rotate::HttpClient;
use tokio::net::TcpListener;

use crate::workers::Workers;

/// How long the upstream may take to answer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Relays everything that reaches a free loopback port to `to` until Ctrl-C or SIGTERM,
/// on the same worker threads as the gateway.
pub async fn run(to: &str) -> ExitCode {
    let authority = match to
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/').parse::<Authority>())
    {
        Some(Ok(authority)) => authority,
        _ => {
            eprintln!("error: `{to}` is not a URL like http://127.0.0.1:8000");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(bound) = listener.local_addr() else {
        return ExitCode::FAILURE;
    };
    println!("relay listening on http://{bound}");
    let _ = std::io::stdout().flush();
    // the gateway's own client: a connection pool per worker thread
    let client = HttpClient::default();
    let workers = match Workers::start(Workers::default_count()) {
        Ok(workers) => workers,
        Err(error) => {
            eprintln!("error: cannot start the worker threads: {error}");
            return ExitCode::FAILURE;
        }
    };
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let client = client.clone();
            let authority = authority.clone();
            let executor = workers.executor();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let client = client.clone();
                let authority = authority.clone();
                async move { forward(&client, authority, request).await }
            });
            workers.serve(stream, move |stream| async move {
                let _ = hyper_util::server::conn::auto::Builder::new(executor)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    tokio::select! {
        () = accept => ExitCode::SUCCESS,
        () = crate::fake::stopped() => ExitCode::SUCCESS,
    }
}

/// Sends `request` to `authority` as it came and returns the answer as it came.
async fn forward(
    client: &HttpClient,
    authority: Authority,
    request: Request<Incoming>,
) -> Result<http::Response<Incoming>, String> {
    let (mut parts, body) = request.into_parts();
    let mut uri = parts.uri.into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(authority);
    parts.uri = Uri::from_parts(uri).map_err(|e| e.to_string())?;
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    client
        .send(Request::from_parts(parts, Full::new(body)), TIMEOUT)
        .await
        .map_err(|e| e.to_string())
}
