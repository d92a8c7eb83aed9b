//! `llm-rotate demo`: an offline tour of rotation, cooldowns, quarantine and fallback.
//!
//! A fake upstream (the testkit's, in this process) plays four OpenAI keys and one
//! Anthropic key: `openai-a` is healthy but sometimes overloaded, `openai-b` hits rate
//! limits, `openai-c` fails until it is quarantined and later recovers, `openai-d` is
//! refused once (as a revoked key would be) and comes back after its quarantine. Every
//! call asks for the `smart` chain (OpenAI first, then Anthropic).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use llm_rotate::{
    configure_from_dict, ChatMessage, ChatOptions, HealthReport, KeyState, LMRotate, Overrides,
    UsageSummary,
};
use rotate_testkit::{Behavior, FakeUpstream};

use crate::table::render;

const KEYS: &[(&str, &str, &str)] = &[
    ("openai-a", "openai", "demo-openai-key-a"),
    ("openai-b", "openai", "demo-openai-key-b"),
    ("openai-c", "openai", "demo-openai-key-c"),
    ("openai-d", "openai", "demo-openai-key-d"),
    ("claude-a", "anthropic", "demo-claude-key-a"),
];

struct Paint {
    on: bool,
}

impl Paint {
    fn color(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn green(&self, t: &str) -> String {
        self.color("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.color("33", t)
    }
    fn red(&self, t: &str) -> String {
        self.color("31", t)
    }
    fn dim(&self, t: &str) -> String {
        self.color("2", t)
    }
}

fn script(upstream: &FakeUpstream) {
    use Behavior::*;
    let secs = Duration::from_secs;
    upstream.script(
        "demo-openai-key-a",
        [
            Ok, Ok, Ok, Ok, Overloaded, Ok, Ok, Ok, Ok, Ok, Ok, Overloaded,
        ],
    );
    upstream.script(
        "demo-openai-key-b",
        [
            Ok,
            RateLimited(Some(secs(2))),
            Ok,
            Ok,
            RateLimited(Some(secs(2))),
            Ok,
            RateLimited(Some(secs(3))),
        ],
    );
    upstream.script(
        "demo-openai-key-c",
        [
            ServerError(500),
            ServerError(502),
            ServerError(500),
            ServerError(503),
        ],
    );
    upstream.script("demo-openai-key-d", [Ok, Unauthorized]);
    upstream.script("demo-claude-key-a", []);
}

fn config(
    upstream: &FakeUpstream,
) -> Result<llm_rotate::LMRotateConfig, llm_rotate::ConfigurationError> {
    let keys: Vec<serde_json::Value> = KEYS
        .iter()
        .map(|(id, provider, value)| serde_json::json!({"id": id, "provider": provider, "value": value}))
        .collect();
    let registry = serde_json::json!({
        "defaults": {"cooldown_seconds": 2, "quarantine_seconds": 3, "max_consecutive_failures": 2, "max_retries": 1},
        "providers": {
            "openai": {"base_url": upstream.base_url()},
            "anthropic": {"base_url": upstream.base_url()}
        },
        "keys": keys,
        "fallback_chains": {"smart": [
            {"provider": "openai", "upstream": "gpt-4o-mini"},
            {"provider": "anthropic", "upstream": "claude-haiku-4-5"}
        ]}
    });
    configure_from_dict(
        registry,
        KEYS.iter().map(|(id, _, _)| *id),
        Overrides::default(),
    )
}

fn state_strip(report: &HealthReport, paint: &Paint) -> String {
    report
        .keys
        .iter()
        .map(|k| {
            let wait = k
                .available_in_ms
                .map(|ms| format!(" {:.1}s", ms as f64 / 1000.0))
                .unwrap_or_default();
            match k.state {
                KeyState::Healthy => paint.green(&format!("{}:ok", k.key_id)),
                KeyState::CoolingDown => paint.yellow(&format!("{}:cooling{wait}", k.key_id)),
                KeyState::Quarantined => paint.red(&format!("{}:quarantined{wait}", k.key_id)),
                KeyState::Disabled => paint.dim(&format!("{}:disabled", k.key_id)),
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}

#[allow(clippy::disallowed_methods)] // the demo is paced in real time on purpose
async fn pace(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs the demo.
pub async fn run(calls: usize, pace_ms: u64) -> ExitCode {
    let paint = Paint {
        on: std::io::stdout().is_terminal(),
    };
    let upstream = match FakeUpstream::start().await {
        Ok(upstream) => upstream,
        Err(error) => {
            eprintln!("error: cannot start the fake upstream: {error}");
            return ExitCode::FAILURE;
        }
    };
    script(&upstream);
    let client = match config(&upstream).and_then(LMRotate::new) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let id_of: HashMap<&str, &str> = KEYS.iter().map(|(id, _, value)| (*value, *id)).collect();
    println!("llm-rotate {} demo: {calls} calls to the `smart` chain (openai, then anthropic) against a fake upstream at {}\n", llm_rotate::VERSION, upstream.url());
    let messages = [ChatMessage::user("Say hello in five words.")];
    let mut served = 0usize;
    for i in 1..=calls {
        let before = upstream.requests().len();
        let streamed = i % 5 == 0;
        let outcome = if streamed {
            stream_call(&client, &messages).await
        } else {
            client
                .chat("smart", &messages, ChatOptions::default())
                .await
                .map(|r| (r.provider, Some(r.latency_ms)))
        };
        let requests = upstream.requests();
        let tried: Vec<String> = requests[before..]
            .iter()
            .map(|r| id_of.get(r.key.as_str()).copied().unwrap_or("?").to_owned())
            .collect();
        let line = match outcome {
            Ok((provider, latency)) => {
                served += 1;
                let key = tried.last().cloned().unwrap_or_default();
                let timing =
                    latency.map_or_else(|| "streamed".to_owned(), |ms| format!("{ms:.1} ms"));
                let path = if tried.len() > 1 {
                    format!(
                        "{} -> ",
                        tried[..tried.len() - 1]
                            .iter()
                            .map(|k| paint.yellow(&format!("{k} x")))
                            .collect::<Vec<_>>()
                            .join(" -> ")
                    )
                } else {
                    String::new()
                };
                format!(
                    "{path}{} {}",
                    paint.green(&format!("{provider}/{key}")),
                    paint.dim(&timing)
                )
            }
            Err(error) => paint.red(&format!("failed: {error}")),
        };
        let report = client.health().await;
        println!("#{i:<3} {line}\n     {}", state_strip(&report, &paint));
        pace(pace_ms).await;
    }
    let report = client.health().await;
    let usage = client.usage_summary().await;
    println!(
        "\n{served} of {calls} calls served.\n\nHealth report\n{}\n\nUsage summary\n{}",
        health_table(&report),
        usage_table(&usage)
    );
    client.close().await;
    ExitCode::SUCCESS
}

async fn stream_call(
    client: &LMRotate,
    messages: &[ChatMessage],
) -> Result<(String, Option<f64>), llm_rotate::LMRotateError> {
    let mut stream = client
        .chat_stream("smart", messages, ChatOptions::default())
        .await?;
    let mut provider = String::new();
    while let Some(chunk) = stream.next().await {
        provider = chunk?.provider;
    }
    Ok((provider, None))
}

fn health_table(report: &HealthReport) -> String {
    let rows: Vec<Vec<String>> = report
        .keys
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                k.provider.clone(),
                k.state.to_string(),
                k.requests.to_string(),
                k.failures.to_string(),
                k.latency_ms_ewma
                    .map_or("-".to_owned(), |l| format!("{l:.1} ms")),
                k.last_error
                    .clone()
                    .unwrap_or_default()
                    .chars()
                    .take(60)
                    .collect(),
            ]
        })
        .collect();
    render(
        &[
            "key",
            "provider",
            "state",
            "requests",
            "failures",
            "latency",
            "last error",
        ],
        &rows,
    )
}

fn usage_table(usage: &UsageSummary) -> String {
    let mut rows: Vec<Vec<String>> = usage
        .by_key
        .iter()
        .map(|(key, c)| {
            vec![
                key.clone(),
                c.requests.to_string(),
                c.successes.to_string(),
                c.failures.to_string(),
                c.prompt_tokens.to_string(),
                c.completion_tokens.to_string(),
            ]
        })
        .collect();
    let t = usage.total;
    rows.push(vec![
        "total".into(),
        t.requests.to_string(),
        t.successes.to_string(),
        t.failures.to_string(),
        t.prompt_tokens.to_string(),
        t.completion_tokens.to_string(),
    ]);
    render(
        &[
            "key",
            "requests",
            "ok",
            "failed",
            "prompt tok",
            "completion tok",
        ],
        &rows,
    )
}
