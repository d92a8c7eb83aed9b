//! The gateway under many clients: 10,000 idle keep-alive connections, then a burst of
//! 2,000 concurrent requests past `gateway.max_in_flight`. Every request gets an answer
//! (200, or 503 with `Retry-After` once the limit is reached), the idle connections stay
//! usable, and the process's resident memory stays within a budget (printed, so the
//! figure can be quoted).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;
use support::{config, GatewayProcess, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const IDLE: usize = 10_000;
const BURST: usize = 2_000;
const MAX_IN_FLIGHT: usize = 1_024;
/// The most resident memory the gateway may hold with all of the above open.
const RSS_BUDGET_KIB: u64 = 512 * 1024;

/// The gateway's resident set, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Reads one HTTP/1.1 response with a `content-length` body; returns its status line and head.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let status = head.split(' ').nth(1)?.parse().ok()?;
            return Some((status, head));
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn health_request() -> Vec<u8> {
    format!("GET /health HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {TOKEN}\r\n\r\n")
        .into_bytes()
}

fn chat_request() -> Vec<u8> {
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_and_a_burst_leave_it_answering_within_memory() {
    let upstream = FakeUpstream::start_quiet().await.unwrap();
    let slow = Behavior::Latency(Duration::from_secs(2), Box::new(Behavior::Ok));
    upstream.set_default("sk-test-a", slow.clone());
    upstream.set_default("sk-test-b", slow);
    let mut config = config(&upstream, &[("a", "openai"), ("b", "openai")]);
    config["gateway"]["max_in_flight"] = json!(MAX_IN_FLIGHT);
    config["gateway"]["header_read_timeout_seconds"] = json!(120);
    let gateway = GatewayProcess::start(&config);
    let pid = gateway.child.id();
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let at_start = rss_kib(pid);

    // 10,000 keep-alive connections, each used once, then left open and idle
    let opening = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let (address, opening) = (address.clone(), opening.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = opening.acquire().await.unwrap();
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream.write_all(&health_request()).await.unwrap();
            let (status, _) = read_response(&mut stream).await.unwrap();
            assert_eq!(status, 200);
            stream
        }));
    }
    let mut idle = Vec::with_capacity(IDLE);
    for task in tasks {
        idle.push(task.await.unwrap());
    }
    let with_idle = rss_kib(pid);

    // 2,000 requests at once on fresh connections, past the in-flight limit
    let burst: Vec<_> = (0..BURST)
        .map(|_| {
            let address = address.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await.unwrap();
                stream.write_all(&chat_request()).await.unwrap();
                read_response(&mut stream).await
            })
        })
        .collect();
    let (mut ok, mut shed) = (0, 0);
    for call in burst {
        let (status, head) = call.await.unwrap().expect("every request is answered");
        match status {
            200 => ok += 1,
            503 => {
                assert!(head.contains("retry-after: 1"), "{head}");
                shed += 1;
            }
            other => panic!("unexpected status {other}: {head}"),
        }
    }
    let after_burst = rss_kib(pid);
    println!(
        "gateway RSS: {} MiB at start, {} MiB with {IDLE} idle connections, {} MiB after the burst ({ok} served, {shed} shed)",
        at_start / 1024,
        with_idle / 1024,
        after_burst / 1024
    );
    assert_eq!(ok + shed, BURST);
    assert!(ok >= 1, "requests within the limit are served");
    assert!(
        shed >= 1,
        "past {MAX_IN_FLIGHT} in flight, requests are shed"
    );
    assert!(
        with_idle.max(after_burst) <= RSS_BUDGET_KIB,
        "RSS {} KiB over the budget",
        with_idle.max(after_burst)
    );

    // the idle connections still serve, and so do new ones
    for stream in idle.iter_mut().step_by(IDLE / 100) {
        stream.write_all(&health_request()).await.unwrap();
        let (status, _) = read_response(stream).await.unwrap();
        assert_eq!(status, 200);
    }
    let mut fresh = TcpStream::connect(&address).await.unwrap();
    fresh.write_all(&chat_request()).await.unwrap();
    assert_eq!(read_response(&mut fresh).await.unwrap().0, 200);
}
