//! The `llm-rotate` binary: `check` on good and bad configs, the offline `demo`, and
//! `--version` naming its commit.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Command;

fn llm_rotate(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_llm-rotate"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_prints_a_masked_key_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotate.yaml");
    std::fs::write(
        &path,
        "defaults:\n  selection_strategy: priority\nkeys:\n  - id: main\n    provider: openai\n    value: sk-test-abcdefghijklmnopqrstuvwxyz\n  - id: backup\n    provider: groq\n    value: gsk-1234567890abcdefghij\n    priority: 1\nfallback_chains:\n  smart:\n    - provider: openai\n      upstream: gpt-4o\n    - provider: groq\n      upstream: llama-3.3-70b\ngateway:\n  tokens: [gw-check-token-secret]\n",
    )
    .unwrap();
    let (code, out, err) = llm_rotate(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("strategy: priority"));
    assert!(out.contains("sk-…wxyz"), "{out}");
    assert!(out.contains("https://api.groq.com/openai/v1"));
    assert!(out.contains("smart: openai/gpt-4o -> groq/llama-3.3-70b"));
    assert!(!out.contains("abcdefghijklmnop"), "the key leaked: {out}");
    assert!(
        out.contains("gateway: listen 127.0.0.1:8080   1 token(s)"),
        "{out}"
    );
    assert!(
        !out.contains("gw-check-token-secret"),
        "the token leaked: {out}"
    );
    assert!(out.contains("config OK"));
}

#[test]
fn check_fails_with_the_error_and_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotate.json");
    std::fs::write(
        &path,
        r#"{"keys": [{"id": "a", "provider": "opnai", "value": "sk-test-secret-value-123456"}]}"#,
    )
    .unwrap();
    let (code, out, err) = llm_rotate(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("keys[0].provider"), "{err}");
    assert!(err.contains("did you mean `openai`?"), "{err}");
    assert!(!err.contains("sk-test-secret"));
    let (code, _, err) = llm_rotate(&["check", "--config", "/nonexistent/rotate.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn demo_runs_offline_and_reports() {
    let (code, out, err) = llm_rotate(&["demo", "--calls", "16", "--pace-ms", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("16 of 16 calls served"), "{out}");
    assert!(out.contains("Health report"));
    assert!(out.contains("Usage summary"));
    assert!(
        out.contains("quarantined") || out.contains("cooling"),
        "key states change during the demo: {out}"
    );
    assert!(!out.contains("demo-openai-key"), "key values never print");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let (code, out, _) = llm_rotate(&["--version"]);
    assert_eq!(code, 0);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(
        out.trim(),
        format!("llm-rotate {} ({head})", env!("CARGO_PKG_VERSION"))
    );
}
