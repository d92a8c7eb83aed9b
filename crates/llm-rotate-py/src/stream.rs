//! `ChatStream`: a stream of `StreamChunk`s for `async for`. Each `__anext__` is an
//! asyncio future over the engine stream's next item; the stream is dropped, and its
//! upstream connection closed, by `aclose()`, by `collect()`, or when the object goes.

use std::sync::Arc;

use futures_util::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::future_into_py;
use tokio::sync::Mutex;

use crate::errors::to_py;
use crate::types::{ChatResponse, StreamChunk};

type Slot = Arc<Mutex<Option<llm_rotate::ChatStream>>>;

/// A streamed answer.
#[pyclass(frozen, module = "llm_rotate")]
pub struct ChatStream {
    slot: Slot,
}

impl ChatStream {
    /// A view of `stream`.
    pub fn new(stream: llm_rotate::ChatStream) -> Self {
        Self {
            slot: Arc::new(Mutex::new(Some(stream))),
        }
    }
}

#[pymethods]
impl ChatStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let slot = Arc::clone(&self.slot);
        future_into_py(py, async move {
            let mut guard = slot.lock().await;
            let Some(stream) = guard.as_mut() else {
                return Err(PyStopAsyncIteration::new_err(()));
            };
            match stream.next().await {
                Some(Ok(chunk)) => Ok(StreamChunk::from(chunk)),
                Some(Err(error)) => {
                    guard.take();
                    Err(to_py(error))
                }
                None => {
                    guard.take();
                    Err(PyStopAsyncIteration::new_err(()))
                }
            }
        })
    }

    /// `await collect()`: the rest of the stream as one `ChatResponse`, the same the
    /// call gives unstreamed (for a stream not yet read from).
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let slot = Arc::clone(&self.slot);
        future_into_py(py, async move {
            let stream = slot.lock().await.take().ok_or_else(|| {
                crate::errors::LMRotateError::new_err(
                    "the stream was already read to its end or closed",
                )
            })?;
            stream
                .collect_response()
                .await
                .map(ChatResponse::from)
                .map_err(to_py)
        })
    }

    /// `await aclose()`: stops the stream and closes its upstream connection.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let slot = Arc::clone(&self.slot);
        future_into_py(py, async move {
            slot.lock().await.take();
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        "ChatStream(..)".to_owned()
    }
}
