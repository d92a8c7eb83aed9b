//! Prompt-cache affinity: a call naming an affinity goes to the key that served it last
//! while that key is eligible, and fails over like any call when it is not.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::{ChatMessage, ChatOptions};
use rotate_testkit::harness::keys_config;
use rotate_testkit::{Harness, Step};

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

async fn key_of(h: &Harness, options: ChatOptions) -> String {
    h.engine.chat("p/m", &hi(), &options).await.unwrap().key_id
}

#[tokio::test]
async fn an_affinity_sticks_to_its_key_while_round_robin_moves_on() {
    let h = Harness::new(keys_config("p", &["a", "b", "c"], "round_robin"), &["p"]);
    let session = || ChatOptions::default().affinity("session-1");
    assert_eq!(key_of(&h, session()).await, "a");
    // without affinity the cursor moves on; with it the call goes back to `a`
    assert_eq!(key_of(&h, ChatOptions::default()).await, "b");
    assert_eq!(key_of(&h, session()).await, "a");
    assert_eq!(key_of(&h, session()).await, "a");
    // another affinity takes whatever the strategy gives, then keeps it
    let other = key_of(&h, ChatOptions::default().affinity("session-2")).await;
    assert_ne!(other, "a");
    assert_eq!(
        key_of(&h, ChatOptions::default().affinity("session-2")).await,
        other
    );
    let stats = h.engine.affinity_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (3, 2, 2));
}

#[tokio::test]
async fn a_resting_key_loses_its_affinity_to_the_key_that_served_instead() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    let session = || ChatOptions::default().affinity("s");
    assert_eq!(key_of(&h, session()).await, "a");
    h.provider
        .push("a", Step::rate_limited(Duration::from_secs(30)));
    // `a` answers 429: the call rotates to `b`, which now holds the affinity
    assert_eq!(key_of(&h, session()).await, "b");
    assert_eq!(h.provider.keys_called(), ["a", "a", "b"]);
    // `a` is cooling: not even tried
    h.provider.clear_log();
    assert_eq!(key_of(&h, session()).await, "b");
    assert_eq!(h.provider.keys_called(), ["b"]);
    // after the cooldown the affinity stays with `b` (the key that served it last)
    h.advance(Duration::from_secs(31));
    assert_eq!(key_of(&h, session()).await, "b");
}

#[tokio::test]
async fn remember_affinity_pins_an_id_to_a_key() {
    let h = Harness::new(keys_config("p", &["a", "b", "c"], "round_robin"), &["p"]);
    h.engine.remember_affinity("resp_123", "c");
    assert_eq!(h.engine.affinity_key("resp_123").as_deref(), Some("c"));
    assert_eq!(h.engine.affinity_key("resp_999"), None);
    // an unknown key is ignored, and so is its affinity
    h.engine.remember_affinity("resp_456", "nope");
    let pinned = ChatOptions::default().affinity("resp_123");
    assert_eq!(key_of(&h, pinned.clone()).await, "c");
    assert_eq!(key_of(&h, pinned).await, "c");
    assert_eq!(
        key_of(&h, ChatOptions::default().affinity("resp_456")).await,
        "a"
    );
}

#[tokio::test]
async fn a_disabled_key_gives_way_and_an_affinity_of_a_megabyte_is_never_kept_whole() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    let huge = "x".repeat(1 << 20);
    let options = || ChatOptions::default().affinity(huge.clone());
    assert_eq!(key_of(&h, options()).await, "a");
    h.engine.set_key_enabled("a", false).unwrap();
    assert_eq!(key_of(&h, options()).await, "b");
    assert_eq!(h.engine.affinity_stats().entries, 1);
}
