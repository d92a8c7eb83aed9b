//! The driver's rules with a manual clock, an in-file store and a scripted adapter:
//! the retry budget per plan entry, free rotation on key-specific failures, an
//! immediate stop on the caller's fault, the move to the next entry, and
//! `NoAvailableKey` with the soonest wait.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::ManualClock;
use crate::config::LMRotateConfig;
use crate::engine::Engine;
use crate::error::{ErrorKind, LMRotateError, ProviderError, StoreError};
use crate::health::{transition, HealthEvent, HealthPolicy, HealthState};
use crate::message::ChatMessage;
use crate::options::ChatOptions;
use crate::provider::{Provider, ProviderCall, ProviderReply, ProviderStreamStart};
use crate::report::UsageSummary;
use crate::store::{RateWindow, StateStore, UsageRecord};

/// States in a map, transitions by the pure function.
#[derive(Default)]
struct MapStore(Mutex<HashMap<String, HealthState>>);

impl StateStore for MapStore {
    fn backend(&self) -> &'static str {
        "map"
    }
    fn state(&self, key_id: &str) -> HealthState {
        self.0.lock().get(key_id).copied().unwrap_or_default()
    }
    fn apply(&self, k: &str, e: HealthEvent, now: u64, p: &HealthPolicy) -> HealthState {
        let mut states = self.0.lock();
        let next = transition(states.get(k).copied().unwrap_or_default(), e, now, p);
        states.insert(k.to_owned(), next);
        next
    }
    fn record(&self, _: &UsageRecord<'_>) {}
    fn count_window(&self, _: &str, _: RateWindow, _: u64, _: u64) -> u64 {
        0
    }
    fn usage(&self) -> crate::provider::BoxFuture<'_, Result<UsageSummary, StoreError>> {
        Box::pin(async { Ok(UsageSummary::default()) })
    }
    fn admit_client<'a>(
        &'a self,
        _: &'a str,
        _: &'a crate::limit::ClientLimits,
        _: u64,
    ) -> crate::provider::BoxFuture<'a, crate::limit::LimitResult> {
        Box::pin(async { Ok(()) })
    }
}

/// Answers each key from its script (then successes) and logs `provider/key`.
#[derive(Default)]
struct Scripted {
    scripts: Mutex<HashMap<String, VecDeque<ErrorKind>>>,
    log: Mutex<Vec<String>>,
}

impl Scripted {
    fn fail(&self, key: &str, kinds: &[ErrorKind]) {
        self.scripts
            .lock()
            .insert(key.to_owned(), kinds.iter().copied().collect());
    }
    fn calls(&self) -> Vec<String> {
        self.log.lock().clone()
    }
}

impl Provider for Scripted {
    fn chat(
        &self,
        call: ProviderCall,
    ) -> crate::provider::BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        let id = call.key.id().to_owned();
        self.log.lock().push(format!("{}/{id}", call.provider));
        let next = self
            .scripts
            .lock()
            .get_mut(&id)
            .and_then(VecDeque::pop_front);
        Box::pin(async move {
            match next {
                Some(ErrorKind::RateLimited) => {
                    Err(ProviderError::new(ErrorKind::RateLimited, "429")
                        .with_retry_after(Some(Duration::from_secs(30))))
                }
                Some(kind) => Err(ProviderError::new(kind, "scripted")),
                None => Ok(ProviderReply {
                    content: format!("ok from {id}"),
                    ..ProviderReply::default()
                }),
            }
        })
    }
    fn chat_stream(
        &self,
        _: ProviderCall,
    ) -> crate::provider::BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                "no streams here",
            ))
        })
    }
}

const START: u64 = 1_767_225_600_000;

fn engine(adapter: &Arc<Scripted>, clock: &Arc<ManualClock>) -> Engine {
    let config = LMRotateConfig::from_value(serde_json::json!({
        "defaults": {"selection_strategy": "round_robin", "max_retries": 1, "max_consecutive_failures": 9},
        "keys": [
            {"id": "a1", "provider": "alpha", "value": "x"},
            {"id": "a2", "provider": "alpha", "value": "x"},
            {"id": "a3", "provider": "alpha", "value": "x"},
            {"id": "b1", "provider": "beta", "value": "x"}
        ],
        "fallback_chains": {"m": [{"provider": "alpha"}, {"provider": "beta"}]}
    }))
    .unwrap();
    Engine::builder(config)
        .store(Arc::new(MapStore::default()))
        .clock(clock.clone())
        .provider("alpha", adapter.clone())
        .provider("beta", adapter.clone())
        .build()
        .unwrap()
}

fn setup() -> (Arc<Scripted>, Arc<ManualClock>, Engine) {
    let adapter = Arc::new(Scripted::default());
    let clock = Arc::new(ManualClock::new(START));
    let engine = engine(&adapter, &clock);
    (adapter, clock, engine)
}

async fn call(engine: &Engine) -> Result<String, LMRotateError> {
    engine
        .chat("m", &[ChatMessage::user("hi")], &ChatOptions::default())
        .await
        .map(|r| r.key_id)
}

#[tokio::test]
async fn transient_failures_spend_the_entry_budget_then_the_next_entry_serves() {
    let (adapter, _, engine) = setup();
    for key in ["a1", "a2", "a3"] {
        adapter.fail(key, &[ErrorKind::ServerError]);
    }
    assert_eq!(call(&engine).await.unwrap(), "b1");
    assert_eq!(
        adapter.calls(),
        ["alpha/a1", "alpha/a2", "beta/b1"],
        "1 + max_retries attempts on alpha"
    );
}

#[tokio::test]
async fn key_specific_failures_rotate_over_every_key_for_free() {
    let (adapter, _, engine) = setup();
    adapter.fail("a1", &[ErrorKind::RateLimited]);
    adapter.fail("a2", &[ErrorKind::Auth]);
    adapter.fail("a3", &[ErrorKind::ServerError]);
    assert_eq!(call(&engine).await.unwrap(), "b1");
    assert_eq!(
        adapter.calls(),
        ["alpha/a1", "alpha/a2", "alpha/a3", "beta/b1"]
    );
}

#[tokio::test]
async fn a_caller_fault_stops_everything_at_once() {
    let (adapter, _, engine) = setup();
    adapter.fail("a1", &[ErrorKind::InvalidRequest]);
    let error = call(&engine).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(
        matches!(error, LMRotateError::Provider(ref e) if e.key_id == "a1"),
        "{error:?}"
    );
    assert_eq!(adapter.calls(), ["alpha/a1"]);
}

#[tokio::test]
async fn every_attempt_failing_lists_the_attempts_in_order() {
    let (adapter, _, engine) = setup();
    for key in ["a1", "a2", "b1"] {
        adapter.fail(key, &[ErrorKind::Timeout]);
    }
    let LMRotateError::Exhausted { attempts } = call(&engine).await.unwrap_err() else {
        panic!("expected Exhausted");
    };
    let tried: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.key_id.as_str()))
        .collect();
    assert_eq!(tried, [("alpha", "a1"), ("alpha", "a2"), ("beta", "b1")]);
    assert!(attempts.iter().all(|a| a.error.kind == ErrorKind::Timeout));
}

#[tokio::test]
async fn nothing_eligible_gives_the_soonest_wait_on_the_manual_clock() {
    let (adapter, clock, engine) = setup();
    for key in ["a1", "a2", "a3", "b1"] {
        adapter.fail(key, &[ErrorKind::RateLimited]);
    }
    assert!(matches!(
        call(&engine).await,
        Err(LMRotateError::Exhausted { .. })
    ));
    clock.advance(Duration::from_secs(10));
    let before = adapter.calls().len();
    let LMRotateError::NoAvailableKey(error) = call(&engine).await.unwrap_err() else {
        panic!("expected NoAvailableKey");
    };
    assert_eq!(error.retry_in, Some(Duration::from_secs(20)));
    assert_eq!(error.providers, ["alpha", "beta"]);
    assert_eq!(adapter.calls().len(), before, "no resting key is called");
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        call(&engine).await.unwrap(),
        "a1",
        "eligible again exactly at `until`"
    );
}
