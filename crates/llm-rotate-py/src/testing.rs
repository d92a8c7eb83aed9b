//! `llm_rotate._native.testing` (feature `testkit`, for the package's own tests): the
//! testkit's fake vendor upstream, scripted per key from Python, with its request log,
//! and engines on a manual clock so cooldowns pass without sleeping.
//!
//! A behaviour is a name (`"ok"`, `"unauthorized"`, `"quota_exhausted"`,
//! `"bad_request"`, `"context_length"`, `"overloaded"`, `"malformed_json"`, `"reset"`,
//! `"blocked"`) or a one-entry dict: `{"reply": text}`, `{"rate_limited": seconds or
//! None}`, `{"rate_limited_for": seconds}`, `{"server_error": status}`,
//! `{"error_saying": [status, message]}`, `{"latency": [seconds, behaviour]}`,
//! `{"cut_after": n}`, `{"end_without_terminal": n}`, `{"mid_stream_error": n}`,
//! `{"stall_after": n}`, `{"tool_calls": [{"id", "name", "arguments"}]}`,
//! `{"refusal": text}`.

use std::sync::Arc;
use std::time::Duration;

use llm_rotate::{Clock, LMRotate, ManualClock as EngineClock, ToolCall};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::get_runtime;
use rotate_testkit::{Behavior, FakeUpstream as Upstream};
use serde_json::{json, Value};

use crate::convert::read;
use crate::engine::Engine;
use crate::errors;
use crate::types::to_python;

/// Registers the `testing` submodule.
pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(parent.py(), "testing")?;
    m.add_class::<FakeUpstream>()?;
    m.add_class::<ManualClock>()?;
    m.add_function(wrap_pyfunction!(engine_with_clock, &m)?)?;
    parent.add_submodule(&m)?;
    Ok(())
}

fn behavior(value: &Value) -> PyResult<Behavior> {
    let bad = || PyValueError::new_err(format!("not a behaviour: {value}"));
    let secs = |v: &Value| {
        v.as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(bad)
    };
    let count = |v: &Value| v.as_u64().map(|n| n as usize).ok_or_else(bad);
    if let Some(name) = value.as_str() {
        return Ok(match name {
            "ok" => Behavior::Ok,
            "unauthorized" => Behavior::Unauthorized,
            "quota_exhausted" => Behavior::QuotaExhausted,
            "bad_request" => Behavior::BadRequest,
            "context_length" => Behavior::ContextLength,
            "overloaded" => Behavior::Overloaded,
            "malformed_json" => Behavior::MalformedJson,
            "reset" => Behavior::Reset,
            "blocked" => Behavior::Blocked,
            "rate_limited" => Behavior::RateLimited(None),
            _ => return Err(bad()),
        });
    }
    let Some((name, arg)) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(bad());
    };
    Ok(match name.as_str() {
        "reply" => Behavior::Reply(arg.as_str().ok_or_else(bad)?.to_owned()),
        "refusal" => Behavior::Refusal(arg.as_str().ok_or_else(bad)?.to_owned()),
        "rate_limited" if arg.is_null() => Behavior::RateLimited(None),
        "rate_limited" => Behavior::RateLimited(Some(secs(arg)?)),
        "rate_limited_for" => Behavior::RateLimitedFor(secs(arg)?),
        "server_error" => Behavior::ServerError(
            arg.as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(bad)?,
        ),
        "error_saying" => {
            let status = arg
                .get(0)
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(bad)?;
            let message = arg.get(1).and_then(Value::as_str).ok_or_else(bad)?;
            Behavior::ErrorSaying(status, message.to_owned())
        }
        "latency" => {
            let wait = secs(arg.get(0).ok_or_else(bad)?)?;
            Behavior::Latency(wait, Box::new(behavior(arg.get(1).ok_or_else(bad)?)?))
        }
        "cut_after" => Behavior::CutAfter(count(arg)?),
        "end_without_terminal" => Behavior::EndWithoutTerminal(count(arg)?),
        "mid_stream_error" => Behavior::MidStreamError(count(arg)?),
        "stall_after" => Behavior::StallAfter(count(arg)?),
        "tool_calls" => {
            let calls: Vec<ToolCall> = serde_json::from_value(arg.clone()).map_err(|_| bad())?;
            Behavior::ToolCalls(calls)
        }
        _ => return Err(bad()),
    })
}

/// The fake vendor upstream on a loopback port, answering every vendor's protocol.
#[pyclass(frozen, module = "llm_rotate._native.testing")]
pub struct FakeUpstream {
    upstream: Upstream,
}

#[pymethods]
impl FakeUpstream {
    /// Starts it on a free port of 127.0.0.1 (it stops when the object goes); `quiet`
    /// keeps no request log (for benchmarks).
    #[new]
    #[pyo3(signature = (quiet=false))]
    fn new(py: Python<'_>, quiet: bool) -> PyResult<Self> {
        let upstream = py
            .detach(|| {
                get_runtime().block_on(async {
                    if quiet {
                        Upstream::start_quiet().await
                    } else {
                        Upstream::start().await
                    }
                })
            })
            .map_err(|e| PyValueError::new_err(format!("cannot start the fake upstream: {e}")))?;
        Ok(Self { upstream })
    }

    /// `http://127.0.0.1:PORT`.
    #[getter]
    fn url(&self) -> String {
        self.upstream.url()
    }

    /// `http://127.0.0.1:PORT/v1`.
    #[getter]
    fn base_url(&self) -> String {
        self.upstream.base_url()
    }

    /// Queues behaviours for the next requests with the key `key`.
    fn script(&self, key: &str, behaviors: &Bound<'_, PyAny>) -> PyResult<()> {
        let values: Vec<Value> = read(behaviors, "behaviors")?;
        let parsed = values.iter().map(behavior).collect::<PyResult<Vec<_>>>()?;
        self.upstream.script(key, parsed);
        Ok(())
    }

    /// What `key` does once its queue is empty.
    fn set_default(&self, key: &str, behavior_: &Bound<'_, PyAny>) -> PyResult<()> {
        let value: Value = read(behavior_, "behavior")?;
        self.upstream.set_default(key, behavior(&value)?);
        Ok(())
    }

    /// Every request so far: dicts of `api`, `key`, `path`, `query`, `headers`, `body`, `stream`.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let log: Vec<Value> = self
            .upstream
            .requests()
            .into_iter()
            .map(|r| {
                json!({
                    "api": format!("{:?}", r.api).to_lowercase(),
                    "key": r.key,
                    "path": r.path,
                    "query": r.query,
                    "headers": r.headers.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                    "body": r.body,
                    "stream": r.stream,
                    "at_unix_ms": r.at_unix_ms,
                })
            })
            .collect();
        to_python(py, &log)
    }

    /// The key of every request so far, in order.
    fn keys_called(&self) -> Vec<String> {
        self.upstream.keys_called()
    }

    /// Forgets the request log.
    fn clear_requests(&self) {
        self.upstream.clear_requests();
    }
}

/// A clock that moves only when told to.
#[pyclass(frozen, module = "llm_rotate._native.testing")]
pub struct ManualClock {
    clock: Arc<EngineClock>,
}

#[pymethods]
impl ManualClock {
    /// A clock at `unix_ms` (default: 2026-01-01).
    #[new]
    #[pyo3(signature = (unix_ms=1_767_225_600_000))]
    fn new(unix_ms: u64) -> Self {
        Self {
            clock: Arc::new(EngineClock::new(unix_ms)),
        }
    }

    /// Moves the clock on by `seconds`.
    fn advance(&self, seconds: f64) -> PyResult<()> {
        let by = Duration::try_from_secs_f64(seconds)
            .map_err(|_| PyValueError::new_err("seconds must be >= 0"))?;
        self.clock.advance(by);
        Ok(())
    }
}

/// An engine for `config` whose health machine runs on `clock`.
#[pyfunction]
fn engine_with_clock(config: &Bound<'_, PyAny>, clock: &ManualClock) -> PyResult<Engine> {
    let config = crate::config::from_python(config)?;
    let _runtime = get_runtime().enter();
    let shared: Arc<dyn Clock> = clock.clock.clone();
    LMRotate::builder(config)
        .clock(shared)
        .build()
        .map(Engine::from_client)
        .map_err(|e| errors::configuration(&e))
}
