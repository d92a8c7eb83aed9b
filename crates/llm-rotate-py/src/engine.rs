//! `Engine`: one `LMRotate` client seen from Python. Every async method returns an
//! asyncio future at once and runs the call on the package's Tokio runtime (see
//! `bridge.rs`), so the event loop is never blocked and many calls from one loop run
//! side by side; cancelling the future drops the call, and with it the upstream request.
//! `chat_sync` runs a call with the GIL released, waking every 50 ms to let Ctrl-C in.

use std::sync::mpsc;
use std::time::Duration;

use llm_rotate::{LMRotate, ReportedError};
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::get_runtime;

use crate::bridge;

use crate::convert;
use crate::errors::{self, to_py};
use crate::lease::AcquireContext;
use crate::stream::ChatStream;
use crate::types::{to_python, ChatResponse};

/// The engine behind one `LMRotate`.
#[pyclass(frozen, module = "llm_rotate._native")]
pub struct Engine {
    client: LMRotate,
}

impl Engine {
    /// An engine around `client`.
    pub fn from_client(client: LMRotate) -> Self {
        Self { client }
    }
}

#[pymethods]
impl Engine {
    /// An engine for `config` (a dict of the config models' shape).
    #[new]
    fn new(config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let config = crate::config::from_python(config)?;
        let _runtime = get_runtime().enter();
        let client = LMRotate::new(config).map_err(|e| errors::configuration(&e))?;
        Ok(Self { client })
    }

    /// `await chat(...)`: a `ChatResponse`.
    #[pyo3(signature = (model, messages, options=None))]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        model: String,
        messages: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (messages, opts) = convert::chat_call(messages, options)?;
        let client = self.client.clone();
        bridge::future(py, async move {
            bridge::engine(
                client
                    .chat(&model, &messages, opts)
                    .await
                    .map(ChatResponse::from),
            )
        })
    }

    /// `await chat_stream(...)`: a `ChatStream` (the call's first chunk has arrived or
    /// failed over by then).
    #[pyo3(signature = (model, messages, options=None))]
    fn chat_stream<'py>(
        &self,
        py: Python<'py>,
        model: String,
        messages: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (messages, opts) = convert::chat_call(messages, options)?;
        let client = self.client.clone();
        bridge::future(py, async move {
            bridge::engine(
                client
                    .chat_stream(&model, &messages, opts)
                    .await
                    .map(ChatStream::new),
            )
        })
    }

    /// A chat call run to its end on the calling thread, the GIL released.
    #[pyo3(signature = (model, messages, options=None))]
    fn chat_sync(
        &self,
        py: Python<'_>,
        model: String,
        messages: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ChatResponse> {
        let (messages, opts) = convert::chat_call(messages, options)?;
        let client = self.client.clone();
        let (done, outcome) = mpsc::sync_channel(1);
        let task = get_runtime().spawn(async move {
            let _ = done.send(client.chat(&model, &messages, opts).await);
        });
        let result = py.detach(move || loop {
            match outcome.recv_timeout(Duration::from_millis(50)) {
                Ok(result) => return Ok(result),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = Python::attach(|py| py.check_signals()) {
                        task.abort();
                        return Err(interrupt);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(errors::LMRotateError::new_err(
                        "the call's task ended without an answer",
                    ));
                }
            }
        })?;
        result.map(ChatResponse::from).map_err(to_py)
    }

    /// `await generate_content(...)` (Gemini on AI Studio and Vertex).
    #[pyo3(signature = (model, contents, options=None))]
    fn generate_content<'py>(
        &self,
        py: Python<'py>,
        model: String,
        contents: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let contents = convert::contents(contents)?;
        let opts = convert::generate_options(options)?;
        let client = self.client.clone();
        bridge::future(py, async move {
            bridge::engine(
                client
                    .generate_content(&model, contents, opts)
                    .await
                    .map(ChatResponse::from),
            )
        })
    }

    /// `await generate_content_stream(...)`: a `ChatStream`.
    #[pyo3(signature = (model, contents, options=None))]
    fn generate_content_stream<'py>(
        &self,
        py: Python<'py>,
        model: String,
        contents: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let contents = convert::contents(contents)?;
        let opts = convert::generate_options(options)?;
        let client = self.client.clone();
        bridge::future(py, async move {
            bridge::engine(
                client
                    .generate_content_stream(&model, contents, opts)
                    .await
                    .map(ChatStream::new),
            )
        })
    }

    /// The request `generate_content` would build, as a dict.
    #[pyo3(signature = (contents, options=None))]
    fn generate_request<'py>(
        &self,
        py: Python<'py>,
        contents: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let contents = convert::contents(contents)?;
        let opts = convert::generate_options(options)?;
        to_python(
            py,
            &llm_rotate::GenerateContentRequest::new(contents, &opts),
        )
    }

    /// `await acquire(provider, model)`: an `AcquireContext` holding a key.
    #[pyo3(signature = (provider, model=None))]
    fn acquire<'py>(
        &self,
        py: Python<'py>,
        provider: String,
        model: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        bridge::future(py, async move {
            bridge::engine(
                client
                    .acquire(&provider, model.as_deref())
                    .await
                    .map(AcquireContext::new),
            )
        })
    }

    /// `await health()`: the health report as a dict.
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        bridge::future(py, async move {
            let report = client.health().await;
            Box::new(move |py: Python<'_>| to_python(py, &report).map(Bound::unbind))
                as bridge::Outcome
        })
    }

    /// `await usage_summary()`: the usage counters as a dict.
    fn usage_summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        bridge::future(py, async move {
            let summary = client.usage_summary().await;
            Box::new(move |py: Python<'_>| to_python(py, &summary).map(Bound::unbind))
                as bridge::Outcome
        })
    }

    /// Swaps in a new config (a dict); calls in flight finish on the old one.
    fn reload_config(&self, config: &Bound<'_, PyAny>) -> PyResult<()> {
        let config = crate::config::from_python(config)?;
        let _runtime = get_runtime().enter();
        self.client
            .reload_config(config)
            .map_err(|e| errors::configuration(&e))
    }

    /// Turns a key on or off at run time.
    fn set_key_enabled(&self, key_id: &str, enabled: bool) -> PyResult<()> {
        self.client.set_key_enabled(key_id, enabled).map_err(to_py)
    }

    /// `await close()`: flushes pending store writes; later calls raise.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        bridge::future(py, async move {
            client.close().await;
            bridge::outcome(Ok(()))
        })
    }
}

/// A failure reported through `AcquireContext.report_error`, from what the Python
/// layer read off the exception.
pub fn reported_error(
    status: Option<u16>,
    kind: Option<&str>,
    retry_after: Option<f64>,
    message: Option<String>,
) -> PyResult<ReportedError> {
    let mut error = match (status, kind) {
        (Some(status), _) => ReportedError::from_status(status),
        (None, Some(kind)) => {
            let kind: llm_rotate::ErrorKind = serde_json::from_value(serde_json::Value::String(
                kind.to_owned(),
            ))
            .map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!("unknown error kind `{kind}`"))
            })?;
            ReportedError::from_kind(kind)
        }
        (None, None) => ReportedError::from_kind(llm_rotate::ErrorKind::Network),
    };
    if let Some(seconds) = retry_after.and_then(|s| Duration::try_from_secs_f64(s).ok()) {
        error = error.with_retry_after(seconds);
    }
    if let Some(message) = message {
        error = error.with_message(message);
    }
    Ok(error)
}
