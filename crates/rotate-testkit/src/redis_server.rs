//! Redis for tests: the shared test server's URL, fresh namespaces, private
//! `redis-server` processes on free ports (for tests that stop and restart Redis), and
//! private three-node Redis Clusters.

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
        wait_for_port(self.port)
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

/// A Redis Cluster of this test's own: three primaries (no replicas) on free local ports,
/// their slots assigned by `redis-cli --cluster create`; stopped (and its files removed)
/// on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: std::path::PathBuf,
}

impl PrivateCluster {
    /// Starts the three nodes, creates the cluster and waits until it serves every slot.
    pub fn start() -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "llm-rotate-cluster-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            ports: Vec::new(),
            children: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = cluster_port()?;
            let child = Command::new("redis-server")
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "2000",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .current_dir(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            cluster.ports.push(port);
            cluster.children.push(child);
        }
        for &port in &cluster.ports {
            wait_for_port(port)?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !created.success() {
            return Err(std::io::Error::other("redis-cli --cluster create failed"));
        }
        for _ in 0..400 {
            if cluster.ports.iter().all(|&p| cluster_ok(p)) {
                return Ok(cluster);
            }
            wait_a_moment();
        }
        Err(std::io::Error::other(
            "the cluster did not reach cluster_state:ok",
        ))
    }

    /// Every node, as a comma-separated list of `redis://127.0.0.1:PORT` (the form of
    /// `state_store.redis_url` with `redis_cluster: true`).
    pub fn url(&self) -> String {
        let urls: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect();
        urls.join(",")
    }

    /// The nodes' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster bus port (port + 10000) is free too.
fn cluster_port() -> std::io::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(
        "no free port pair for a cluster node",
    ))
}

fn wait_for_port(port: u16) -> std::io::Result<()> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        wait_a_moment();
    }
    Err(std::io::Error::other("redis-server did not start"))
}

/// True when the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        .unwrap_or(false)
}
