//! Unit tests of `error`.

use super::*;

#[test]
fn causes_are_sources_and_shown_once() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
    let error = ProviderError::new(ErrorKind::Network, "reading the response body failed")
        .with_source(io)
        .for_key("openai", "k1");
    let cause = std::error::Error::source(&error).expect("a source");
    assert_eq!(cause.to_string(), "connection reset");
    assert_eq!(
        with_causes(&error),
        "network error from provider `openai` (key `k1`): reading the response body failed: connection reset"
    );
    assert_eq!(error.clone(), error, "equality ignores the cause");
    let exhausted = LMRotateError::Exhausted {
        attempts: vec![Attempt {
            provider: "openai".into(),
            key_id: "k1".into(),
            model: "m".into(),
            error,
        }],
    };
    assert!(
        exhausted.to_string().ends_with("connection reset"),
        "{exhausted}"
    );
}

#[test]
fn error_stays_small() {
    assert!(std::mem::size_of::<LMRotateError>() <= 128);
}

#[test]
fn dispositions_follow_the_table() {
    use Disposition::*;
    let table = [
        (ErrorKind::RateLimited, CoolDown),
        (ErrorKind::QuotaExhausted, Quarantine),
        (ErrorKind::Auth, Quarantine),
        (ErrorKind::ServerError, CountFailure),
        (ErrorKind::Overloaded, CountFailure),
        (ErrorKind::Timeout, CountFailure),
        (ErrorKind::Network, CountFailure),
        (ErrorKind::Decode, CountFailure),
        (ErrorKind::InvalidRequest, CallerFault),
        (ErrorKind::ContextLength, CallerFault),
        (ErrorKind::ContentFilter, CallerFault),
    ];
    for (kind, expected) in table {
        assert_eq!(kind.disposition(), expected, "{kind}");
    }
}

#[test]
fn configuration_error_shows_path_and_message() {
    let e = ConfigurationError::new("provider", "unknown provider `x`").within("keys[2]");
    assert_eq!(e.path(), "keys[2].provider");
    assert_eq!(
        e.to_string(),
        "invalid configuration at `keys[2].provider`: unknown provider `x`"
    );
    let whole = ConfigurationError::new("", "empty");
    assert_eq!(whole.to_string(), "invalid configuration: empty");
}

#[test]
fn accessors_report_kind_status_and_wait() {
    let e = LMRotateError::NoAvailableKey(NoAvailableKeyError {
        model: "m".into(),
        providers: vec!["openai".into()],
        retry_in: Some(Duration::from_secs(3)),
    });
    assert_eq!(e.kind(), ErrorKind::NoAvailableKey);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    let p = ProviderError::new(ErrorKind::InvalidRequest, "bad")
        .with_status(400)
        .for_key("openai", "k1");
    let e = LMRotateError::Provider(p);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        e.to_string(),
        "invalid_request error from provider `openai` (key `k1`), status 400: bad"
    );
}
