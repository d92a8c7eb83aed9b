//! `ChatStream`: a stream of `StreamChunk`s for `async for`. Each `__anext__` is an
//! asyncio future over the engine stream's next item; the stream is dropped, and its
//! upstream connection closed, by `aclose()`, by `collect()`, or when the object goes.

use std::sync::Arc;

use futures_util::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::bridge;
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
        bridge::future(py, async move {
            let mut guard = slot.lock().await;
            let Some(stream) = guard.as_mut() else {
                return bridge::outcome::<()>(Err(PyStopAsyncIteration::new_err(())));
            };
            match stream.next().await {
                Some(Ok(chunk)) => bridge::outcome(Ok(StreamChunk::from(chunk))),
                Some(Err(error)) => {
                    guard.take();
                    bridge::engine::<()>(Err(error))
                }
                None => {
                    guard.take();
                    bridge::outcome::<()>(Err(PyStopAsyncIteration::new_err(())))
                }
            }
        })
    }

    /// `await collect()`: the rest of the stream as one `ChatResponse`, the same the
    /// call gives unstreamed (for a stream not yet read from).
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let slot = Arc::clone(&self.slot);
        bridge::future(py, async move {
            let Some(stream) = slot.lock().await.take() else {
                return bridge::outcome::<()>(Err(crate::errors::LMRotateError::new_err(
                    "the stream was already read to its end or closed",
                )));
            };
            bridge::engine(stream.collect_response().await.map(ChatResponse::from))
        })
    }

    /// `await aclose()`: stops the stream and closes its upstream connection.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let slot = Arc::clone(&self.slot);
        bridge::future(py, async move {
            slot.lock().await.take();
            bridge::outcome(Ok(()))
        })
    }

    fn __repr__(&self) -> String {
        "ChatStream(..)".to_owned()
    }
}
