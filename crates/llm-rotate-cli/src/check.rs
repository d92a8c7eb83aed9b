//! `llm-rotate check --config FILE`.

use std::path::Path;
use std::process::ExitCode;

use llm_rotate::{configure_from_file, LMRotateConfig};

use crate::gateway::{settings, GatewayConfig};
use crate::table::render;

/// Loads, validates and describes a config; non-zero exit with the error otherwise.
pub fn run(path: &Path) -> ExitCode {
    let loaded = configure_from_file(path, None).and_then(|config| {
        let (gateway, _) = settings::load(&config)?;
        Ok((config, gateway))
    });
    match loaded {
        Ok((config, gateway)) => {
            println!("{}", describe(&config, &gateway));
            println!("\nconfig OK: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", llm_rotate::core::error::with_causes(&error));
            ExitCode::FAILURE
        }
    }
}

/// A human description of a validated config; keys appear masked.
pub fn describe(config: &LMRotateConfig, gateway: &GatewayConfig) -> String {
    let d = &config.defaults;
    let mut out = format!(
        "strategy: {}   max_retries: {}   cooldown: {}s   quarantine: {}s   failures to quarantine: {}\n",
        d.selection_strategy, d.max_retries, d.cooldown_seconds, d.quarantine_seconds, d.max_consecutive_failures
    );
    let store = &config.state_store;
    out.push_str(&format!(
        "gateway: listen {}   {} token(s)   {} admin token(s)   body limit {} bytes\n",
        gateway.listen,
        gateway.tokens.len(),
        gateway.admin_tokens.len(),
        gateway.max_body_bytes
    ));
    out.push_str(&format!(
        "state store: {}{}\n\n",
        store.backend.as_str(),
        if store.backend == llm_rotate::StoreBackend::Redis {
            format!(
                " ({}, namespace {})",
                store.redacted_url(),
                store.redis_namespace
            )
        } else {
            String::new()
        }
    ));
    let mut names: Vec<&str> = config.keys.iter().map(|k| k.provider.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let providers: Vec<Vec<String>> = names
        .iter()
        .map(|name| {
            let p = config.provider(name).unwrap_or_default();
            vec![
                (*name).to_owned(),
                p.api.map_or("?", |a| a.as_str()).to_owned(),
                p.base_url.unwrap_or_else(|| "(per key)".to_owned()),
                config
                    .keys
                    .iter()
                    .filter(|k| k.provider == *name)
                    .count()
                    .to_string(),
            ]
        })
        .collect();
    out.push_str(&render(
        &["provider", "api", "base_url", "keys"],
        &providers,
    ));
    out.push_str("\n\n");
    let keys: Vec<Vec<String>> = config
        .keys
        .iter()
        .map(|k| {
            let secret = match (&k.value, &k.env) {
                (Some(value), _) => value.mask(),
                (None, Some(var)) => format!("${var}"),
                (None, None) => k
                    .metadata
                    .get("credentials_file")
                    .map_or_else(|| "-".to_owned(), |path| format!("file {path}")),
            };
            vec![
                k.id.clone(),
                k.provider.clone(),
                secret,
                k.weight.to_string(),
                k.priority.to_string(),
                if k.enabled { "yes" } else { "no" }.to_owned(),
                if k.models.is_empty() {
                    "*".to_owned()
                } else {
                    k.models.join(",")
                },
            ]
        })
        .collect();
    out.push_str(&render(
        &[
            "key", "provider", "value", "weight", "priority", "enabled", "models",
        ],
        &keys,
    ));
    if !config.fallback_chains.is_empty() {
        out.push_str("\n\nfallback chains:\n");
        for (name, chain) in &config.fallback_chains {
            let steps: Vec<String> = chain
                .iter()
                .map(|s| format!("{}/{}", s.provider, s.upstream.as_deref().unwrap_or(name)))
                .collect();
            out.push_str(&format!("  {name}: {}\n", steps.join(" -> ")));
        }
    }
    out
}
