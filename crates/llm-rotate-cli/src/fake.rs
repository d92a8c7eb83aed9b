//! `llm-rotate fake-upstream` (hidden): the testkit's fake vendor upstream as a process,
//! without a request log, for the gateway benchmark and the SDK test. It answers every
//! key with a success until SIGTERM or Ctrl-C.

use std::io::Write;
use std::process::ExitCode;

use rotate_testkit::FakeUpstream;

/// Runs until told to stop.
pub async fn run() -> ExitCode {
    let upstream = match FakeUpstream::start_quiet().await {
        Ok(upstream) => upstream,
        Err(error) => {
            eprintln!("error: cannot start the fake upstream: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("fake upstream listening on {}", upstream.url());
    let _ = std::io::stdout().flush();
    stopped().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
