//! `AcquireContext`: a key borrowed for a vendor SDK, reported back once.
//!
//! The key's value is readable as `key_value` but never in `repr`. A report is
//! recorded before the method returns (it returns a finished asyncio future, so
//! `ctx.report_success()` and `await ctx.report_success()` both work); a second
//! report raises. Released without a report (`release()`, or the `async with` block
//! left cleanly), the key's in-flight slot is freed and no outcome is recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;

use llm_rotate::ExposeSecret;
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::get_runtime;

use crate::engine::reported_error;
use crate::errors::LMRotateError;

/// A borrowed key.
#[pyclass(frozen, module = "llm_rotate")]
pub struct AcquireContext {
    inner: Mutex<Option<llm_rotate::AcquireContext>>,
    key_value: String,
    provider: String,
    key_id: String,
    metadata: BTreeMap<String, String>,
    base_url: Option<String>,
}

impl AcquireContext {
    /// A view of `context`.
    pub fn new(context: llm_rotate::AcquireContext) -> Self {
        Self {
            key_value: context.key_value().expose_secret().to_owned(),
            provider: context.provider().to_owned(),
            key_id: context.key_id().to_owned(),
            metadata: context.metadata().clone(),
            base_url: context.base_url().map(str::to_owned),
            inner: Mutex::new(Some(context)),
        }
    }

    /// Takes the lease out for its one report.
    fn take(&self) -> PyResult<llm_rotate::AcquireContext> {
        self.inner
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .ok_or_else(|| {
                LMRotateError::new_err(format!(
                    "key `{}` was already reported or released",
                    self.key_id
                ))
            })
    }
}

#[pymethods]
impl AcquireContext {
    /// The key itself (for the vendor SDK).
    #[getter]
    fn key_value(&self) -> &str {
        &self.key_value
    }

    /// The key's provider.
    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    /// The key's id.
    #[getter]
    fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key's metadata.
    #[getter]
    fn metadata(&self) -> BTreeMap<String, String> {
        self.metadata.clone()
    }

    /// The key's endpoint, else its provider's.
    #[getter]
    fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// True once reported or released.
    #[getter]
    fn done(&self) -> bool {
        self.inner.lock().map_or(true, |slot| slot.is_none())
    }

    /// Records a success (naming the upstream an aggregator used, if any).
    #[pyo3(signature = (upstream_provider=None))]
    fn report_success<'py>(
        &self,
        py: Python<'py>,
        upstream_provider: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let context = self.take()?;
        py.detach(|| get_runtime().block_on(context.report_success(upstream_provider.as_deref())));
        crate::bridge::finished(py)
    }

    /// Records a failure: `error` is an exception (a vendor SDK's, httpx's, an
    /// llm_rotate error) or an HTTP status; its status and `retry-after` are read off it,
    /// and one that says neither counts as a network failure.
    fn report_error<'py>(&self, py: Python<'py>, error: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let fields = py
            .import("llm_rotate._client")?
            .getattr("failure_of")?
            .call1((error,))?;
        if fields.is_none() {
            let message = error.str().map(|s| s.to_string()).ok();
            return self.report_failure(py, None, Some("network"), None, message);
        }
        let get = |name: &str| fields.get_item(name).ok().filter(|v| !v.is_none());
        let status = get("status").map(|v| v.extract::<u16>()).transpose()?;
        let kind = get("kind").map(|v| v.extract::<String>()).transpose()?;
        let retry_after = get("retry_after").map(|v| v.extract::<f64>()).transpose()?;
        let message = get("message").map(|v| v.extract::<String>()).transpose()?;
        self.report_failure(py, status, kind.as_deref(), retry_after, message)
    }

    /// Records a failure read off an exception (what `report_error` and the `async
    /// with` block use).
    #[pyo3(signature = (status=None, kind=None, retry_after=None, message=None))]
    fn report_failure<'py>(
        &self,
        py: Python<'py>,
        status: Option<u16>,
        kind: Option<&str>,
        retry_after: Option<f64>,
        message: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let message = message.map(|m| {
            m.replace(
                &self.key_value,
                &llm_rotate::core::secret::mask(&self.key_value),
            )
        });
        let error = reported_error(status, kind, retry_after, message)?;
        let context = self.take()?;
        py.detach(|| get_runtime().block_on(context.report_error(error)));
        crate::bridge::finished(py)
    }

    /// Gives the key back with no outcome recorded (idempotent).
    fn release(&self) {
        if let Ok(mut slot) = self.inner.lock() {
            slot.take();
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        crate::types::repr(
            py,
            "AcquireContext",
            &[
                ("provider", crate::types::shown(py, &self.provider)),
                ("key_id", crate::types::shown(py, &self.key_id)),
                ("done", crate::types::shown(py, &self.done())),
            ],
        )
    }
}
