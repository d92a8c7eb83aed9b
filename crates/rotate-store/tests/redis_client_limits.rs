//! Client limits through a real Redis: two stores sharing a namespace admit exactly
//! `rpm` requests a minute between them under concurrency, tokens and spend recorded by
//! one refuse the other's next request, and with Redis gone admission goes on from the
//! local counts.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use rotate_core::limit::{ClientLimits, LimitKind};
use rotate_core::response::Usage;
use rotate_core::store::{StateStore, UsageRecord};
use rotate_store::RedisStore;
use rotate_testkit::redis_server::{fresh_namespace, test_redis_url, PrivateRedis};

/// Thirty seconds into the current minute. Redis counts expire a minute after their
/// window by the wall clock, so the windows the tests name must be current ones.
fn now() -> u64 {
    use rotate_core::clock::Clock as _;
    let wall = rotate_core::clock::SystemClock.unix_ms();
    wall - wall % 60_000 + 30_000
}

fn record(client: &str, tokens: u64, cost: u64, at_ms: u64) -> UsageRecord<'_> {
    UsageRecord {
        key_id: "k",
        provider: "openai",
        model: "gpt-4o",
        upstream_provider: None,
        success: true,
        usage: Usage::new(tokens, 0),
        cost_nano_usd: cost,
        client: Some(client),
        at_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_admit_exactly_rpm_between_them() {
    let now = now();
    let namespace = fresh_namespace("client-rpm");
    let a = Arc::new(RedisStore::new(&test_redis_url(), &namespace).unwrap());
    let b = Arc::new(RedisStore::new(&test_redis_url(), &namespace).unwrap());
    let limits = ClientLimits {
        rpm: Some(25),
        ..Default::default()
    };
    let calls: Vec<_> = (0..120)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                store
                    .admit_client("team", &limits, now + i)
                    .await
                    .map_err(|e| e.kind)
            })
        })
        .collect();
    let mut admitted = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(kind) => assert_eq!(kind, LimitKind::Requests),
        }
    }
    assert_eq!(admitted, 25, "exactly rpm admitted across both processes");
    // the next minute starts again; another client was never limited by this one
    assert!(a.admit_client("team", &limits, now + 60_000).await.is_ok());
    assert!(b.admit_client("other", &limits, now).await.is_ok());
    a.delete_namespace().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_spend_recorded_by_one_process_refuse_the_other() {
    let now = now();
    let namespace = fresh_namespace("client-spend");
    let a = RedisStore::new(&test_redis_url(), &namespace).unwrap();
    let b = RedisStore::new(&test_redis_url(), &namespace).unwrap();
    let tokens = ClientLimits {
        tpm: Some(1_000),
        ..Default::default()
    };
    let budget = ClientLimits {
        budget_usd_per_month: Some(0.01), // 10,000,000 nano-dollars
        ..Default::default()
    };
    assert!(b.admit_client("team", &tokens, now).await.is_ok());
    for _ in 0..4 {
        a.record(&record("team", 250, 2_500_000, now));
    }
    a.flush().await.unwrap();
    let refused = b.admit_client("team", &tokens, now + 1).await.unwrap_err();
    assert_eq!(refused.kind, LimitKind::Tokens);
    assert_eq!(refused.retry_after.as_millis(), 29_999);
    let refused = b.admit_client("team", &budget, now + 1).await.unwrap_err();
    assert_eq!(refused.kind, LimitKind::MonthlyBudget);
    // the usage summary counts by client too, shared
    let usage = b.usage().await.unwrap();
    assert_eq!(usage.by_client["team"].total_tokens, 1_000);
    assert_eq!(usage.by_client["team"].cost_nano_usd, 10_000_000);
    a.delete_namespace().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_gone_admission_counts_locally() {
    let now = now();
    let mut server = PrivateRedis::start().unwrap();
    let store = RedisStore::new(&server.url(), &fresh_namespace("client-away")).unwrap();
    let limits = ClientLimits {
        rpm: Some(2),
        ..Default::default()
    };
    assert!(store.admit_client("team", &limits, now).await.is_ok());
    server.stop();
    // the local view never saw the shared count: it allows its own rpm, then refuses
    assert!(store.admit_client("team", &limits, now + 1).await.is_ok());
    assert!(store.admit_client("team", &limits, now + 2).await.is_ok());
    let refused = store.admit_client("team", &limits, now + 3).await;
    assert_eq!(refused.unwrap_err().kind, LimitKind::Requests);
}
