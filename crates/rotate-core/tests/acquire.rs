//! `acquire`: a key selected as a call would, and outcomes reported back.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rotate_core::secret::Secret;
use rotate_core::{ErrorKind, KeyState, LMRotateError, ReportedError};
use rotate_testkit::harness::keys_config;
use rotate_testkit::Harness;
use secrecy::ExposeSecret;

#[tokio::test]
async fn acquired_keys_report_success_and_errors() {
    let h = Harness::new(keys_config("p", &["a", "b"], "round_robin"), &["p"]);
    let ctx = h.engine.acquire("p", None).await.unwrap();
    assert_eq!(ctx.key_id(), "a");
    assert_eq!(ctx.provider(), "p");
    assert_eq!(ctx.key_value().expose_secret(), "secret-value-of-a");
    assert!(!format!("{ctx:?}").contains("secret-value"));
    ctx.report_error(ReportedError::from_status(429).with_retry_after(Duration::from_secs(9)))
        .await;
    assert_eq!(h.state("a").state, KeyState::CoolingDown);
    assert_eq!(h.state("a").until_ms, h.now_ms() + 9_000);

    let ctx = h.engine.acquire("p", Some("m")).await.unwrap();
    assert_eq!(ctx.key_id(), "b");
    ctx.report_success(Some("upstream-x")).await;
    let usage = h.engine.usage_summary().await;
    assert_eq!(usage.by_key["b"].successes, 1);
    assert_eq!(usage.by_upstream_provider["upstream-x"].requests, 1);
    assert_eq!(usage.by_key["a"].failures, 1);
}

#[tokio::test]
async fn a_dropped_context_records_nothing() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    drop(h.engine.acquire("p", None).await.unwrap());
    assert_eq!(h.engine.usage_summary().await.total.requests, 0);
    let ctx = h.engine.acquire("p", None).await.unwrap();
    ctx.report_error(ReportedError::from_kind(ErrorKind::Auth))
        .await;
    assert_eq!(h.state("a").state, KeyState::Quarantined);
    let err = h.engine.acquire("p", None).await.unwrap_err();
    assert!(
        matches!(err, LMRotateError::NoAvailableKey(ref e) if e.retry_in == Some(Duration::from_secs(300))),
        "{err:?}"
    );
    let _ = Secret::new("unused");
}

#[tokio::test]
async fn errors_from_calls_convert_to_reports() {
    let h = Harness::new(keys_config("p", &["a"], "round_robin"), &["p"]);
    let err = LMRotateError::Provider(
        rotate_core::ProviderError::new(ErrorKind::ServerError, "x").with_status(502),
    );
    let ctx = h.engine.acquire("p", None).await.unwrap();
    ctx.report_error(ReportedError::from(&err)).await;
    assert_eq!(h.state("a").consecutive_failures, 1);
    assert!(h.engine.acquire("nope", None).await.is_err());
}
