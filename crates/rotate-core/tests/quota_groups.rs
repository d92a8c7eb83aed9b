//! Quota groups and quota classes: a shared limit rests every key of its group without
//! calling them; a quota that resets on a schedule rests the key until then, while a
//! spent credit stays a quarantine.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions, ErrorKind, KeyState, ProviderError};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

/// Keys a, b, c, d of provider `p`; a and b share quota group `org-1`.
fn grouped() -> Harness {
    let mut config = keys_config("p", &["a", "b", "c", "d"], "round_robin");
    config["keys"][0]["quota_group"] = "org-1".into();
    config["keys"][1]["quota_group"] = "org-1".into();
    Harness::new(config, &["p"])
}

/// The keys that serve the next `n` calls, sorted.
async fn keys_serving(h: &Harness, n: usize) -> Vec<String> {
    h.provider.clear_log();
    for _ in 0..n {
        key_of(h).await;
    }
    let mut called = h.provider.keys_called();
    called.sort();
    called
}

async fn key_of(h: &Harness) -> String {
    h.engine
        .chat("p/m", &hi(), &ChatOptions::default())
        .await
        .unwrap()
        .key_id
}

#[tokio::test]
async fn a_rate_limit_rests_the_whole_group_without_calling_it() {
    let h = grouped();
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(30)));
    // a answers 429: b shares its limit, so the call goes to c
    assert_eq!(key_of(&h).await, "c");
    assert_eq!(h.provider.keys_called(), ["a", "c"]);
    let until = h.now_ms() + 30_000;
    for id in ["a", "b"] {
        let state = h.state(id);
        assert_eq!(
            (state.state, state.until_ms),
            (KeyState::CoolingDown, until),
            "{id}"
        );
    }
    assert_eq!(h.state("c").state, KeyState::Healthy);
    // while the group rests, only c and d serve
    assert_eq!(keys_serving(&h, 4).await, ["c", "c", "d", "d"]);
    // health() names the group
    let report = h.engine.health().await;
    let groups: Vec<Option<&str>> = report
        .keys
        .iter()
        .map(|k| k.quota_group.as_deref())
        .collect();
    assert_eq!(groups, [Some("org-1"), Some("org-1"), None, None]);
    // after the wait both serve again
    h.advance(Duration::from_secs(31));
    assert_eq!(keys_serving(&h, 4).await, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_spent_quota_quarantines_the_group_but_auth_stays_with_the_key() {
    let h = grouped();
    h.provider
        .push("a", Step::fail(ErrorKind::QuotaExhausted, 429));
    assert_eq!(key_of(&h).await, "c");
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    assert_eq!(h.state("b").state, KeyState::Quarantined);
    // a refused key is its own problem: its group mates keep serving
    let h = grouped();
    h.provider.push("a", Step::fail(ErrorKind::Auth, 401));
    assert_eq!(key_of(&h).await, "b");
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    assert_eq!(h.state("b").state, KeyState::Healthy);
    // and so is a server error
    let h = grouped();
    h.provider
        .push("a", Step::fail(ErrorKind::ServerError, 500));
    assert_eq!(key_of(&h).await, "b");
    assert_eq!(h.state("b").consecutive_failures, 0);
}

#[tokio::test]
async fn a_daily_quota_rests_until_its_reset_not_for_the_quarantine() {
    let h = grouped();
    let reset = h.now_ms() + 5 * 3_600_000;
    h.provider.push(
        "a",
        Step::Fail(
            ProviderError::new(ErrorKind::QuotaExhausted, "per-day limit")
                .with_status(429)
                .with_retry_after(Some(Duration::from_millis(reset - h.now_ms()))),
        ),
    );
    assert_eq!(key_of(&h).await, "c");
    for id in ["a", "b"] {
        let state = h.state(id);
        assert_eq!(
            (state.state, state.until_ms),
            (KeyState::CoolingDown, reset),
            "{id}"
        );
    }
    // one second after the reset the key serves again, with no probe and no quarantine
    h.advance(Duration::from_secs(5 * 3600 + 1));
    assert_eq!(keys_serving(&h, 4).await, ["a", "b", "c", "d"]);
    // a spent quota with no wait is a quarantine
    let h = grouped();
    h.provider.push(
        "c",
        Step::Fail(ProviderError::new(
            ErrorKind::QuotaExhausted,
            "credit balance too low",
        )),
    );
    key_of(&h).await;
    key_of(&h).await;
    key_of(&h).await;
    assert_eq!(h.state("c").state, KeyState::Quarantined);
}

#[tokio::test]
async fn a_blank_quota_group_is_a_config_error_naming_the_field() {
    let mut config = keys_config("p", &["a"], "round_robin");
    config["keys"][0]["quota_group"] = " ".into();
    let config = rotate_core::LMRotateConfig::from_value(config).unwrap();
    let error = Harness::from_config(config, &["p"]).unwrap_err();
    assert_eq!(error.path(), "keys[0].quota_group");
}
