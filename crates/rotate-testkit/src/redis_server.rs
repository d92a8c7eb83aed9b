//! Redis for tests: the shared test server's URL, fresh namespaces, and private
//! `redis-server` processes on free ports (for tests that stop and restart Redis).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The Redis used by tests: `LLM_ROTATE_TEST_REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn test_redis_url() -> String {
    std::env::var("LLM_ROTATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A namespace no other test (or earlier run) uses.
pub fn fresh_namespace(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "test-{test}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `redis-server` of this test's own, on 127.0.0.1 and a free port; stopped on drop.
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port.
    pub fn start() -> std::io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = Self { port, child: None };
        server.restart()?;
        Ok(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its data is gone: it keeps nothing on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and waits until it answers.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            wait_a_moment();
        }
        Err(std::io::Error::other("redis-server did not start"))
    }
}

#[allow(clippy::disallowed_methods)] // waiting for a process to come up is real time
fn wait_a_moment() {
    std::thread::sleep(Duration::from_millis(25));
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
