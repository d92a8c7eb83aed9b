//! The `llm-rotate` command.
//!
//! - `llm-rotate demo` (feature `demo`, on by default): an offline tour: a fake upstream
//!   with keys that rate-limit, fail and recover, traffic through the engine, a live view
//!   of which key served each call and of key states, then the health report and usage
//!   summary.
//! - `llm-rotate check --config FILE`: loads and validates a config and prints what it
//!   holds (keys masked); exits non-zero with the error otherwise.
//! - `llm-rotate serve --config FILE [--listen ADDR]`: the HTTP gateway (OpenAI- and
//!   Gemini-compatible routes, health, metrics, reload, graceful drain).
//!
//! Feature `bench-tools` (off by default; `cargo xtask bench-gateway` turns it on) adds
//! the hidden `fake-upstream` and `relay` commands the gateway benchmark runs.

mod check;
#[cfg(feature = "demo")]
mod demo;
#[cfg(feature = "bench-tools")]
mod fake;
mod gateway;
#[cfg(feature = "bench-tools")]
mod relay;
mod table;
mod telemetry;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The gateway allocates per request; mimalloc is markedly cheaper than glibc's malloc there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "llm-rotate", version = env!("LLM_ROTATE_LONG_VERSION"), about = "Rotate LLM traffic over many keys and providers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an offline demo: no keys, no network needed.
    #[cfg(feature = "demo")]
    Demo {
        /// Number of calls to make.
        #[arg(long, default_value_t = 48)]
        calls: usize,
        /// Pause between calls, in milliseconds.
        #[arg(long, default_value_t = 120)]
        pace_ms: u64,
    },
    /// Validate a config file and show what it holds (keys masked).
    Check {
        /// The config file (.json, .yaml, .yml or .toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the HTTP gateway.
    Serve {
        /// The config file (.json, .yaml, .yml or .toml).
        #[arg(long)]
        config: PathBuf,
        /// Address to listen on (default: the config's `gateway.listen`, else 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Threads serving connections, each with its own single-threaded runtime
        /// (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Run the fake vendor upstream on a free loopback port (for benchmarks and SDK
    /// tests): every key succeeds. The first line of stdout names its URL.
    #[cfg(feature = "bench-tools")]
    #[command(hide = true)]
    FakeUpstream,
    /// Relay every request unchanged to `--to` (the gateway benchmark's baseline: two
    /// HTTP exchanges and nothing else). The first line of stdout names its URL.
    #[cfg(feature = "bench-tools")]
    #[command(hide = true)]
    Relay {
        /// The upstream, like http://127.0.0.1:8000.
        #[arg(long)]
        to: String,
    },
}

#[cfg(feature = "demo")]
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|error| {
        eprintln!("error: cannot start the runtime: {error}");
        ExitCode::FAILURE
    })
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("error: cannot start the runtime: {error}");
            ExitCode::FAILURE
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check::run(&config),
        #[cfg(feature = "demo")]
        Command::Demo { calls, pace_ms } => match runtime() {
            Ok(runtime) => runtime.block_on(demo::run(calls, pace_ms)),
            Err(code) => code,
        },
        Command::Serve {
            config,
            listen,
            workers,
        } => match current_thread_runtime() {
            Ok(runtime) => {
                match runtime.block_on(gateway::run(&config, listen.as_deref(), workers)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(message) => {
                        eprintln!("error: {message}");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(code) => code,
        },
        #[cfg(feature = "bench-tools")]
        Command::FakeUpstream => match runtime() {
            Ok(runtime) => runtime.block_on(fake::run()),
            Err(code) => code,
        },
        #[cfg(feature = "bench-tools")]
        Command::Relay { to } => match current_thread_runtime() {
            Ok(runtime) => runtime.block_on(relay::run(&to)),
            Err(code) => code,
        },
    }
}
