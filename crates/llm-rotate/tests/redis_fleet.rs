//! Several clients (and processes) sharing key health and usage through Redis: the same
//! scenarios against the shared single-node server and against a private three-primary
//! Redis Cluster.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use llm_rotate::{ChatMessage, ChatOptions, KeyState, LMRotate, LMRotateConfig};
use rotate_testkit::redis_server::{fresh_namespace, test_redis_url, PrivateCluster, PrivateRedis};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;

/// Everything logged at warn level and above by this test binary.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(needle)
            .count()
    }
}

/// The binary's log, captured from the first call on (background tasks included).
fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        log
    })
}

/// Where the fleet's Redis is: one server, or a cluster's nodes.
struct Target {
    url: String,
    cluster: bool,
}

impl Target {
    fn single() -> Self {
        Self {
            url: test_redis_url(),
            cluster: false,
        }
    }

    fn cluster(cluster: &PrivateCluster) -> Self {
        Self {
            url: cluster.url(),
            cluster: true,
        }
    }

    fn state_store(&self, namespace: &str) -> serde_json::Value {
        json!({"backend": "redis", "redis_url": self.url, "redis_cluster": self.cluster, "redis_namespace": namespace})
    }

    async fn cleanup(&self, namespace: &str) {
        let config: llm_rotate::core::config::StateStoreConfig =
            serde_json::from_value(self.state_store(namespace)).unwrap();
        let deleted = rotate_store::RedisStore::from_config(&config)
            .unwrap()
            .delete_namespace()
            .await
            .unwrap();
        assert!(deleted > 0, "the namespace held keys");
    }
}

fn client(
    upstream: &FakeUpstream,
    target: &Target,
    namespace: &str,
    defaults: serde_json::Value,
) -> LMRotate {
    let mut config = upstream.config(&[("a", "openai"), ("b", "openai")], defaults);
    config["state_store"] = target.state_store(namespace);
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

async fn state_in(client: &LMRotate, key: usize) -> KeyState {
    client.health().await.keys[key].state
}

/// Polls until `check` holds, at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while start.elapsed() <= limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::task::yield_now().await;
        #[allow(clippy::disallowed_methods)] // polling for propagation, not waiting out a cooldown
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_in_one_client_is_seen_by_the_other_within_100ms() {
    cooldown_seen_within_100ms(&Target::single()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_affinity_learnt_by_one_client_is_followed_by_the_other() {
    let upstream = FakeUpstream::start().await.unwrap();
    let target = Target::single();
    let namespace = fresh_namespace("fleet-affinity");
    let defaults = json!({"selection_strategy": "round_robin"});
    let first = client(&upstream, &target, &namespace, defaults.clone());
    let second = client(&upstream, &target, &namespace, defaults);
    for c in [&first, &second] {
        c.chat(
            "gpt-4o-mini",
            &[ChatMessage::user("warm")],
            ChatOptions::default(),
        )
        .await
        .unwrap();
    }
    // pub/sub tells only those already listening: announce until the second hears one
    let mut probes = 0;
    let listening = within(Duration::from_secs(2), || {
        probes += 1;
        first.remember_affinity(&format!("probe-{probes}"), "a");
        async { second.affinity_stats().entries > 0 }
    });
    assert!(
        listening.await.is_some(),
        "the second client never listened"
    );
    first.remember_affinity("conversation-7", "b");
    let learnt = within(Duration::from_secs(2), || async {
        second.affinity_key("conversation-7").as_deref() == Some("b")
    })
    .await;
    assert!(
        learnt.is_some(),
        "the second client never heard of the affinity"
    );
    // the second client's round-robin would give `b` now, so call once without affinity
    // to move it to `a`: with the affinity it still goes to `b`
    let plain = second
        .chat(
            "gpt-4o-mini",
            &[ChatMessage::user("hi")],
            ChatOptions::default(),
        )
        .await
        .unwrap();
    let pinned = second
        .chat(
            "gpt-4o-mini",
            &[ChatMessage::user("hi")],
            ChatOptions::default().affinity("conversation-7"),
        )
        .await
        .unwrap();
    assert_eq!(
        pinned.key_id, "b",
        "round-robin alone gave {}",
        plain.key_id
    );
    assert_eq!(second.affinity_stats().hits, 1);
    target.cleanup(&namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_is_shared_and_usage_adds_up_across_clients() {
    quarantine_shared_and_usage_adds_up(&Target::single()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_usage_exactly() {
    two_processes_share_usage(&Target::single()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_the_fleet_shares_the_same() {
    let cluster = PrivateCluster::start().unwrap();
    let target = Target::cluster(&cluster);
    cooldown_seen_within_100ms(&target).await;
    quarantine_shared_and_usage_adds_up(&target).await;
    two_processes_share_usage(&target).await;
}

async fn cooldown_seen_within_100ms(target: &Target) {
    let upstream = FakeUpstream::start().await.unwrap();
    let namespace = fresh_namespace("fleet-cooldown");
    let one = client(
        &upstream,
        target,
        &namespace,
        json!({"selection_strategy": "round_robin"}),
    );
    let two = client(
        &upstream,
        target,
        &namespace,
        json!({"selection_strategy": "round_robin"}),
    );
    // both connected and listening before the event
    assert!(within(Duration::from_secs(5), || async {
        two.health().await.store.connected
    })
    .await
    .is_some());
    one.chat(
        "gpt-4o",
        &[ChatMessage::user("warm up")],
        ChatOptions::default(),
    )
    .await
    .unwrap();
    two.chat(
        "gpt-4o",
        &[ChatMessage::user("warm up")],
        ChatOptions::default(),
    )
    .await
    .unwrap();

    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(60)))],
    );
    upstream.script(
        "sk-test-b",
        [Behavior::RateLimited(Some(Duration::from_secs(60)))],
    );
    let _ = one
        .chat(
            "gpt-4o",
            &[ChatMessage::user("hit the limit")],
            ChatOptions::default(),
        )
        .await;
    let seen = within(Duration::from_millis(100), || async {
        let report = two.engine().store().state("a");
        report.state == KeyState::CoolingDown
    })
    .await;
    assert!(
        seen.is_some(),
        "the other client did not see the cooldown within 100 ms"
    );
    assert_eq!(state_in(&two, 0).await, KeyState::CoolingDown);
    // and the other client really does not use the key
    upstream.clear_requests();
    let err = two
        .chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, llm_rotate::LMRotateError::NoAvailableKey(_)),
        "{err}"
    );
    assert!(upstream.requests().is_empty());
    target.cleanup(&namespace).await;
}

async fn quarantine_shared_and_usage_adds_up(target: &Target) {
    let upstream = FakeUpstream::start().await.unwrap();
    let namespace = fresh_namespace("fleet-usage");
    let one = client(&upstream, target, &namespace, json!({}));
    let two = client(&upstream, target, &namespace, json!({}));
    upstream.script("sk-test-a", [Behavior::Unauthorized]);
    one.chat(
        "gpt-4o",
        &[ChatMessage::user("hi")],
        ChatOptions::default().provider("openai"),
    )
    .await
    .unwrap();
    let mut quarantined = false;
    for _ in 0..3 {
        one.chat("gpt-4o", &[ChatMessage::user("hi")], ChatOptions::default())
            .await
            .unwrap();
    }
    if state_in(&one, 0).await == KeyState::Quarantined {
        quarantined = within(Duration::from_secs(2), || async {
            state_in(&two, 0).await == KeyState::Quarantined
        })
        .await
        .is_some();
    }
    assert!(quarantined, "quarantine is shared");

    let mut tasks = Vec::new();
    for i in 0..1000 {
        let client = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            client
                .chat(
                    "gpt-4o",
                    &[ChatMessage::user("count me")],
                    ChatOptions::default(),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let requests = upstream.requests().len() as u64;
    let from_one = one.usage_summary().await;
    let from_two = two.usage_summary().await;
    assert_eq!(from_one, from_two, "both read the fleet's counters");
    assert_eq!(from_one.total.requests, requests);
    assert_eq!(from_one.total.successes, 1000 + 4);
    assert_eq!(
        from_one.by_key.values().map(|c| c.requests).sum::<u64>(),
        requests
    );
    target.cleanup(&namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_and_restarting_loses_no_call() {
    let log = log();
    let mut redis = PrivateRedis::start().unwrap();
    let upstream = FakeUpstream::start().await.unwrap();
    let namespace = fresh_namespace("fleet-restart");
    let target = Target {
        url: redis.url(),
        cluster: false,
    };
    let client = client(&upstream, &target, &namespace, json!({}));
    let hi = [ChatMessage::user("hi")];
    for _ in 0..10 {
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
    }
    assert!(client.health().await.store.connected);

    redis.stop();
    for _ in 0..20 {
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
    }
    // reports answer from this process's view at once (a generous bound: they used to
    // wait seconds on the dead server; the real figure is tens of milliseconds)
    let asked = tokio::time::Instant::now();
    let report = client.health().await;
    let usage_during = client.usage_summary().await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert!(!report.store.connected);
    assert!(
        report.store.local_only,
        "the report says it is this process's view"
    );
    assert_eq!(
        report.keys.len(),
        2,
        "health still answers from the local view"
    );
    assert!(usage_during.local_only);
    assert_eq!(
        usage_during.total.requests, 30,
        "this process's counts while Redis is away"
    );
    assert_eq!(
        log.count("unreachable"),
        1,
        "one warning for the outage, not one per call: {}",
        String::from_utf8_lossy(&log.0.lock().unwrap())
    );
    assert_eq!(log.count(&redis.url()), 1, "the warning names the server");

    redis.restart().unwrap();
    for _ in 0..5 {
        client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
    }
    // reconnection backs off at most 500 ms, so the store is back well within 2 s
    let back = within(Duration::from_secs(2), || async {
        let report = client.health().await;
        report.store.connected && !report.store.local_only
    })
    .await;
    assert!(back.is_some(), "the store reconnects");
    let usage = client.usage_summary().await;
    assert!(!usage.local_only);
    // the restarted server started empty: it holds exactly the calls made while it was
    // down (kept and flushed on its return) and after, each counted once
    assert_eq!(usage.total.requests, 25);
    assert_eq!(usage.total.successes, 25);
}

/// Run by the two-process test as a child: makes calls against the parent's upstream.
#[test]
fn child_process_role() {
    let (Ok(url), Ok(namespace), Ok(calls), Ok(redis)) = (
        std::env::var("FLEET_CHILD_UPSTREAM"),
        std::env::var("FLEET_CHILD_NAMESPACE"),
        std::env::var("FLEET_CHILD_CALLS"),
        std::env::var("FLEET_CHILD_REDIS"),
    ) else {
        return; // not a child: nothing to do
    };
    let target = Target {
        url: redis,
        cluster: std::env::var_os("FLEET_CHILD_CLUSTER").is_some(),
    };
    let config = json!({
        "providers": {"openai": {"base_url": url}},
        "keys": [{"id": "a", "provider": "openai", "value": "sk-test-a"}, {"id": "b", "provider": "openai", "value": "sk-test-b"}],
        "state_store": target.state_store(&namespace)
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
        for _ in 0..calls.parse::<usize>().unwrap() {
            client
                .chat(
                    "gpt-4o",
                    &[ChatMessage::user("from the child")],
                    ChatOptions::default(),
                )
                .await
                .unwrap();
        }
        client.close().await;
    });
}

async fn two_processes_share_usage(target: &Target) {
    let upstream = FakeUpstream::start().await.unwrap();
    let namespace = fresh_namespace("fleet-processes");
    let parent = client(&upstream, target, &namespace, json!({}));
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_process_role", "--nocapture"])
        .env("FLEET_CHILD_UPSTREAM", upstream.base_url())
        .env("FLEET_CHILD_NAMESPACE", &namespace)
        .env("FLEET_CHILD_CALLS", "150")
        .env("FLEET_CHILD_REDIS", &target.url)
        .stdout(std::process::Stdio::null());
    if target.cluster {
        command.env("FLEET_CHILD_CLUSTER", "1");
    }
    let child = command.spawn().unwrap();
    for _ in 0..150 {
        parent
            .chat(
                "gpt-4o",
                &[ChatMessage::user("from the parent")],
                ChatOptions::default(),
            )
            .await
            .unwrap();
    }
    let status = child.wait_with_output().await.unwrap().status;
    assert!(status.success());
    let usage = parent.usage_summary().await;
    assert_eq!(usage.total.requests, 300);
    assert_eq!(usage.total.successes, 300);
    assert_eq!(upstream.requests().len(), 300);
    target.cleanup(&namespace).await;
}

#[tokio::test]
async fn an_unreachable_redis_at_start_still_serves_calls() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(
        &upstream,
        &Target {
            url: "redis://127.0.0.1:1".to_owned(),
            cluster: false,
        },
        &fresh_namespace("down"),
        json!({"selection_strategy": "round_robin"}),
    );
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(30)))],
    );
    let hi = [ChatMessage::user("hi")];
    for _ in 0..4 {
        let reply = client
            .chat("gpt-4o", &hi, ChatOptions::default())
            .await
            .unwrap();
        assert_eq!(reply.key_id, "b", "the cooldown holds in the local view");
    }
    let report = client.health().await;
    assert!(!report.store.connected);
    assert_eq!(report.store.backend, "redis");
    assert_eq!(report.keys[0].state, KeyState::CoolingDown);
    assert_eq!(client.usage_summary().await.total.successes, 4);
    client.close().await;
}
