//! The local services the test suite talks to: a Redis server on 127.0.0.1:6379, and
//! Debian's Chromium with its WebDriver for the dashboard's browser test.
//!
//! `cargo xtask ci` calls [`ensure_redis`] before the tests: when nothing answers a
//! `PING` there it starts `redis-server` (installing Debian's package first when the
//! binary is missing), so the suite passes on a fresh machine. The tests that start
//! their own servers (a Redis to stop and restart, a three-node Redis Cluster) need
//! `redis-server` and `redis-cli` on PATH whatever answers on 6379, so those are
//! installed when missing too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

const REDIS_ADDR: &str = "127.0.0.1:6379";

/// Makes sure a Redis server answers on 127.0.0.1:6379, unless the tests were pointed
/// elsewhere with `LLM_ROTATE_TEST_REDIS_URL`.
pub fn ensure_redis() -> Result<(), String> {
    if !has_program("redis-server") {
        apt_install("redis-server")?;
    }
    if !has_program("redis-cli") {
        apt_install("redis-tools")?;
    }
    if std::env::var_os("LLM_ROTATE_TEST_REDIS_URL").is_some() || redis_answers() {
        return Ok(());
    }
    eprintln!(
        "$ redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no"
    );
    let status = Command::new("redis-server")
        .args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .status()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    if !status.success() {
        return Err(format!("redis-server failed to start ({status})"));
    }
    for _ in 0..100 {
        if redis_answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("redis-server started but does not answer on 127.0.0.1:6379".to_owned())
}

/// Installs Debian's `chromium` and `chromium-driver` when missing (the dashboard test
/// drives them; it would install them itself, this only does it up front).
pub fn ensure_chromium() -> Result<(), String> {
    if !has_program("chromium") || !has_program("chromedriver") {
        apt_install("chromium")?;
        apt_install("chromium-driver")?;
    }
    Ok(())
}

/// Whether a Redis server answers `PING` on the standard port.
fn redis_answers() -> bool {
    let Ok(addr) = REDIS_ADDR.parse::<SocketAddr>() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

fn has_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// Installs a Debian package (with sudo when not root).
pub fn apt_install(package: &str) -> Result<(), String> {
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    for args in [
        &["apt-get", "update", "-q"][..],
        &["apt-get", "install", "-y", "-q", package][..],
    ] {
        let command: Vec<&str> = sudo.iter().chain(args).copied().collect();
        eprintln!("$ {}", command.join(" "));
        let status = Command::new(command[0])
            .args(&command[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
        if !status.success() {
            return Err(format!("`{}` failed ({status})", command.join(" ")));
        }
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
