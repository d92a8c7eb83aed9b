//! The `llm-rotate` command.
//!
//! - `llm-rotate demo`: an offline tour: a fake upstream with keys that rate-limit, fail
//!   and recover, traffic through the engine, a live view of which key served each call
//!   and of key states, then the health report and usage summary.
//! - `llm-rotate check --config FILE`: loads and validates a config and prints what it
//!   holds (keys masked); exits non-zero with the error otherwise.

mod check;
mod demo;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "llm-rotate", version = llm_rotate::VERSION, about = "Rotate LLM traffic over many keys and providers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an offline demo: no keys, no network needed.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check::run(&config),
        Command::Demo { calls, pace_ms } => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(demo::run(calls, pace_ms)),
            Err(error) => {
                eprintln!("error: cannot start the runtime: {error}");
                ExitCode::FAILURE
            }
        },
    }
}
