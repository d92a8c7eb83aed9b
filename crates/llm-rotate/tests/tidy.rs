//! Repository rules: every Rust file opens with `//!` docs, no `mod.rs` files, no file of
//! rotate-core over 520 lines, no secret-shaped literal outside test fixtures, and every
//! config field is documented in docs/configuration.md.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use llm_rotate::{DefaultsConfig, KeyConfig, ProviderConfig, StateStoreConfig, WireApi};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("xtask"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    files
}

#[test]
fn every_rust_file_starts_with_module_docs() {
    for file in all_rust_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        assert!(
            text.starts_with("//!"),
            "{} does not start with //! docs",
            file.display()
        );
    }
}

#[test]
fn no_mod_rs_files() {
    for file in all_rust_files() {
        assert!(
            file.file_name().is_none_or(|n| n != "mod.rs"),
            "{}: name the module file after the module",
            file.display()
        );
    }
}

#[test]
fn rotate_core_files_stay_small() {
    let mut files = Vec::new();
    rust_files(&root().join("crates/rotate-core/src"), &mut files);
    for file in files {
        let lines = std::fs::read_to_string(&file)
            .expect("readable")
            .lines()
            .count();
        assert!(
            lines <= 520,
            "{} has {lines} lines: give it fewer jobs",
            file.display()
        );
    }
}

#[test]
fn no_secret_shaped_literals_outside_fixtures() {
    let patterns: [(&str, usize); 4] = [
        ("sk-proj-", 20),
        ("sk-ant-api", 20),
        ("AIza", 35),
        ("-----BEGIN PRIVATE KEY-----", 0),
    ];
    for file in all_rust_files() {
        let shown = file.display().to_string();
        if shown.contains("/tests/") || shown.contains("rotate-testkit") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        for (prefix, min_tail) in patterns {
            for (at, _) in text.match_indices(prefix) {
                let tail = text[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .count();
                assert!(
                    tail < min_tail.max(1),
                    "{shown}: secret-shaped literal starting `{prefix}`"
                );
            }
        }
    }
}

fn field_names(value: &serde_json::Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_config_field_is_documented() {
    let docs = std::fs::read_to_string(root().join("docs/configuration.md"))
        .expect("docs/configuration.md");
    let provider = ProviderConfig {
        api: Some(WireApi::Openai),
        base_url: Some("http://x".into()),
        headers: [("h".to_owned(), "v".to_owned())].into(),
        models: vec!["m".into()],
        aliases: [("a".to_owned(), "b".to_owned())].into(),
        timeout_seconds: Some(1),
        stream_idle_timeout_seconds: Some(1),
        priority: Some(1),
        weight: Some(1),
        cooldown_seconds: Some(1),
        quarantine_seconds: Some(1),
        max_consecutive_failures: Some(1),
        max_retries: Some(1),
        stream_usage: Some(true),
        default_max_tokens: Some(1),
        api_version: Some("v".into()),
        inline_limit_bytes: Some(1),
    };
    let mut key = KeyConfig::new("id", "openai", "v");
    key.env = Some("E".into());
    key.models = vec!["m".into()];
    key.base_url = Some("http://x".into());
    key.rpm = Some(1);
    key.tpm = Some(1);
    key.rpd = Some(1);
    key.metadata = [("k".to_owned(), "v".to_owned())].into();
    let sections = [
        serde_json::to_value(DefaultsConfig::default()),
        serde_json::to_value(StateStoreConfig::default()),
        serde_json::to_value(&provider),
        serde_json::to_value(&key),
        serde_json::to_value(llm_rotate::FallbackEntry::new("p", Some("u"))),
        serde_json::to_value(llm_rotate::LMRotateConfig::default()),
    ];
    for section in sections {
        for field in field_names(&section.expect("serializable")) {
            assert!(
                docs.contains(&format!("`{field}`")),
                "config field `{field}` is not in docs/configuration.md"
            );
        }
    }
}
