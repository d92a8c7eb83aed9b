//! Dead keys: a key whose credentials are refused on every probe becomes `disabled`
//! with reason `auth` after `dead_key_after_failed_probes` probes, is probed no more, and
//! comes back with `set_key_enabled` or a reload.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, KeyState, LMRotateConfig};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

fn config(dead_after: u32) -> serde_json::Value {
    let mut config = keys_config("p", &["a", "b"], "round_robin");
    config["defaults"]["quarantine_seconds"] = 10.into();
    config["defaults"]["dead_key_after_failed_probes"] = dead_after.into();
    config
}

async fn call(h: &Harness) -> String {
    h.engine
        .chat("p/m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .unwrap()
        .key_id
}

/// Runs calls past each quarantine of `a` until it is no longer quarantined, or
/// `rounds` probes were made; gives how many times `a` was called.
async fn probe_until_settled(h: &Harness, rounds: usize) -> usize {
    for _ in 0..rounds {
        // the longest quarantine here: 10 s doubled three times
        h.advance(Duration::from_secs(81));
        call(h).await;
        call(h).await;
        if h.state("a").state != KeyState::Quarantined {
            break;
        }
    }
    h.provider
        .keys_called()
        .iter()
        .filter(|k| *k == "a")
        .count()
}

#[tokio::test]
async fn a_key_refused_on_every_probe_is_dead_until_enabled() {
    let h = Harness::new(config(3), &["p"]);
    h.provider
        .set_default("a", Step::fail(ErrorKind::Auth, 401));
    assert_eq!(call(&h).await, "b");
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    // the first refusal, then three refused probes
    assert_eq!(probe_until_settled(&h, 10).await, 4);
    let state = h.state("a");
    assert_eq!((state.state, state.auth_failures), (KeyState::Disabled, 3));
    assert!(state.is_dead());
    let report = h.engine.health().await;
    assert_eq!(report.keys[0].state, KeyState::Disabled);
    assert_eq!(report.keys[0].disabled_reason.as_deref(), Some("auth"));
    assert_eq!(report.keys[1].disabled_reason, None);
    // no more probes, however long we wait
    h.provider.clear_log();
    for _ in 0..5 {
        h.advance(Duration::from_secs(3600));
        assert_eq!(call(&h).await, "b");
    }
    assert_eq!(h.provider.keys_called(), ["b"; 5]);
    // an operator brings it back
    h.provider.set_default("a", Step::Ok);
    h.engine.set_key_enabled("a", true).unwrap();
    assert_eq!(h.state("a"), rotate_core::health::HealthState::default());
    let mut served: Vec<String> = Vec::new();
    for _ in 0..2 {
        served.push(call(&h).await);
    }
    served.sort();
    assert_eq!(served, ["a", "b"]);
}

#[tokio::test]
async fn a_reload_tries_a_dead_key_again_and_an_operator_disable_is_not_dead() {
    let h = Harness::new(config(2), &["p"]);
    h.provider
        .set_default("a", Step::fail(ErrorKind::Auth, 401));
    call(&h).await;
    assert_eq!(probe_until_settled(&h, 10).await, 3);
    assert!(h.state("a").is_dead());
    h.provider.set_default("a", Step::Ok);
    h.engine
        .reload(LMRotateConfig::from_value(config(2)).unwrap())
        .unwrap();
    assert_eq!(h.state("a").state, KeyState::Healthy);
    h.provider.clear_log();
    call(&h).await;
    call(&h).await;
    assert!(h.provider.keys_called().contains(&"a".to_owned()));

    h.engine.set_key_enabled("b", false).unwrap();
    let report = h.engine.health().await;
    assert_eq!(report.keys[1].disabled_reason.as_deref(), Some("operator"));
    // a reload does not undo an operator's decision
    h.engine
        .reload(LMRotateConfig::from_value(config(2)).unwrap())
        .unwrap();
    assert_eq!(h.state("b").state, KeyState::Disabled);
}

#[tokio::test]
async fn zero_never_kills_a_key() {
    let h = Harness::new(config(0), &["p"]);
    h.provider
        .set_default("a", Step::fail(ErrorKind::Auth, 401));
    call(&h).await;
    probe_until_settled(&h, 8).await;
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    assert_eq!(h.state("a").auth_failures, 8);
}
