//! The Lua transition script agrees with `rotate_core::health::transition` on every row
//! of the shared table, and malformed data found in Redis is reported, not a panic.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use redis::AsyncCommands;
use rotate_core::health::HealthState;
use rotate_core::report::KeyState;
use rotate_core::store::StateStore;
use rotate_store::RedisStore;
use rotate_testkit::health_table::{CASES, POLICY};
use rotate_testkit::redis_server::{fresh_namespace, test_redis_url};

async fn write_state(
    connection: &mut redis::aio::MultiplexedConnection,
    name: &str,
    state: &HealthState,
) {
    let _: () = connection
        .hset_multiple(
            name,
            &[
                ("state", state.state.as_str().to_owned()),
                ("until", state.until_ms.to_string()),
                ("failures", state.consecutive_failures.to_string()),
                ("strikes", state.strikes.to_string()),
                ("transient", u8::from(state.transient).to_string()),
                ("auth", state.auth_failures.to_string()),
            ],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn lua_and_rust_agree_on_every_row() {
    let namespace = fresh_namespace("lua");
    let store = RedisStore::new(&test_redis_url(), &namespace).unwrap();
    let client = redis::Client::open(test_redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for (i, case) in CASES.iter().enumerate() {
        let key_id = format!("row-{i}");
        write_state(
            &mut connection,
            &format!("{{{namespace}}}:state:{key_id}"),
            &case.before,
        )
        .await;
        store.apply(&key_id, case.event, case.now_ms, &POLICY);
    }
    store.flush().await.unwrap();
    let ids: Vec<Arc<str>> = (0..CASES.len())
        .map(|i| Arc::from(format!("row-{i}")))
        .collect();
    let shared = store.states(ids).await.unwrap();
    for (case, got) in CASES.iter().zip(shared) {
        assert_eq!(got, case.after, "row: {}", case.name);
    }
    // the local view adopted the shared results
    for (i, case) in CASES.iter().enumerate() {
        assert_eq!(
            store.state(&format!("row-{i}")),
            case.after,
            "local row: {}",
            case.name
        );
    }
    assert!(store.connected());
    assert!(store.delete_namespace().await.unwrap() > 0);
}

#[tokio::test]
async fn malformed_data_is_reported_not_a_panic() {
    let namespace = fresh_namespace("malformed");
    let store = RedisStore::new(&test_redis_url(), &namespace).unwrap();
    let client = redis::Client::open(test_redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let name = format!("{{{namespace}}}:state:weird");
    let _: () = connection
        .hset_multiple(&name, &[("state", "sleepy"), ("until", "soon")])
        .await
        .unwrap();
    let _: () = connection
        .hset(
            format!("{{{namespace}}}:usage:key"),
            "k\u{1f}requests",
            "many",
        )
        .await
        .unwrap();
    // reading: the malformed state is skipped (this process's view is kept)
    let states = store.states(vec![Arc::from("weird")]).await.unwrap();
    assert_eq!(states[0], HealthState::default());
    let usage = store.usage().await.unwrap();
    assert!(usage.by_key.get("k").is_none_or(|c| c.requests == 0));
    // a transition over malformed data resets it and goes on
    store.apply(
        "weird",
        rotate_core::health::HealthEvent::AuthFailed,
        1_000,
        &rotate_core::health::HealthPolicy::default(),
    );
    store.flush().await.unwrap();
    let states = store.states(vec![Arc::from("weird")]).await.unwrap();
    assert_eq!(states[0].state, KeyState::Quarantined);
    store.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_redis_is_reported_and_nothing_is_lost_locally() {
    let store = RedisStore::new("redis://127.0.0.1:1", &fresh_namespace("down")).unwrap();
    let state = store.apply(
        "k",
        rotate_core::health::HealthEvent::AuthFailed,
        5,
        &rotate_core::health::HealthPolicy::default(),
    );
    assert_eq!(state.state, KeyState::Quarantined);
    assert!(store.flush().await.is_err());
    assert!(!store.connected());
    assert!(store.states(vec![Arc::from("k")]).await.is_err());
    assert!(RedisStore::new("not a url", "ns").is_err());
}
