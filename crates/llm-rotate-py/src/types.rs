//! The answers handed to Python: `ChatResponse`, `StreamChunk`, `Usage`, `ToolCall` and
//! `ToolCallDelta`, each a read-only view of the engine's value. Plain fields are
//! attributes; `raw`, `reasoning` and `message()` are built as Python objects when read.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pythonize::pythonize;

/// `name(field=value, …)` with each value shown as Python's `repr` shows it.
pub fn repr(_py: Python<'_>, name: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> String {
    let shown: Vec<String> = fields
        .iter()
        .map(|(field, value)| {
            let text = value
                .repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string());
            format!("{field}={text}")
        })
        .collect();
    format!("{name}({})", shown.join(", "))
}

/// `value` as a Python object, for [`repr`].
pub fn shown<'py, T: IntoPyObject<'py> + Clone>(py: Python<'py>, value: &T) -> Bound<'py, PyAny> {
    use pyo3::IntoPyObjectExt;
    value
        .clone()
        .into_bound_py_any(py)
        .unwrap_or_else(|_| py.None().into_bound(py))
}

/// Any serde value as a Python object.
pub fn to_python<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize(py, value).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Token usage of a call.
#[pyclass(frozen, get_all, eq, module = "llm_rotate")]
#[derive(Clone, PartialEq, serde::Serialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Prompt tokens read from the vendor's cache.
    pub cached_tokens: u64,
    /// Generated tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// Prompt tokens written to the vendor's cache.
    pub cache_write_tokens: u64,
}

impl From<&llm_rotate::Usage> for Usage {
    fn from(usage: &llm_rotate::Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            cached_tokens: usage.cached_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            cache_write_tokens: usage.cache_write_tokens,
        }
    }
}

#[pymethods]
impl Usage {
    fn __repr__(&self) -> String {
        format!(
            "Usage(prompt_tokens={}, completion_tokens={}, total_tokens={})",
            self.prompt_tokens, self.completion_tokens, self.total_tokens
        )
    }

    /// The usage as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self)
    }
}

/// A tool call the model made.
#[pyclass(frozen, get_all, module = "llm_rotate")]
#[derive(Clone)]
pub struct ToolCall {
    /// The call's id, which its result must name.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, as the JSON text the model wrote.
    pub arguments: String,
}

#[pymethods]
impl ToolCall {
    /// The arguments parsed (`ValueError` when the model wrote no valid JSON).
    fn arguments_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value: serde_json::Value = serde_json::from_str(&self.arguments).map_err(|e| {
            PyValueError::new_err(format!(
                "the arguments of tool call `{}` are not JSON: {e}",
                self.id
            ))
        })?;
        to_python(py, &value)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        repr(
            py,
            "ToolCall",
            &[
                ("id", shown(py, &self.id)),
                ("name", shown(py, &self.name)),
                ("arguments", shown(py, &self.arguments)),
            ],
        )
    }
}

impl From<&llm_rotate::ToolCall> for ToolCall {
    fn from(call: &llm_rotate::ToolCall) -> Self {
        Self {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        }
    }
}

/// A piece of a streamed tool call: `index` says which call it extends.
#[pyclass(frozen, get_all, module = "llm_rotate")]
#[derive(Clone)]
pub struct ToolCallDelta {
    /// Which call of the answer (from 0).
    pub index: u32,
    /// The call's id, on its first piece.
    pub id: Option<String>,
    /// The tool's name, on its first piece.
    pub name: Option<String>,
    /// More of the arguments' text.
    pub arguments: String,
}

#[pymethods]
impl ToolCallDelta {
    fn __repr__(&self, py: Python<'_>) -> String {
        repr(
            py,
            "ToolCallDelta",
            &[
                ("index", shown(py, &self.index)),
                ("id", shown(py, &self.id)),
                ("name", shown(py, &self.name)),
                ("arguments", shown(py, &self.arguments)),
            ],
        )
    }
}

/// The answer of a call.
#[pyclass(frozen, module = "llm_rotate")]
pub struct ChatResponse {
    inner: llm_rotate::ChatResponse,
}

impl From<llm_rotate::ChatResponse> for ChatResponse {
    fn from(inner: llm_rotate::ChatResponse) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl ChatResponse {
    /// The generated text.
    #[getter]
    fn content(&self) -> &str {
        &self.inner.content
    }

    /// The provider that served the call.
    #[getter]
    fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The upstream model id called.
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }

    /// The id of the key that served it (never its value).
    #[getter]
    fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// Token usage.
    #[getter]
    fn usage(&self) -> Usage {
        Usage::from(&self.inner.usage)
    }

    /// End-to-end latency in milliseconds.
    #[getter]
    fn latency_ms(&self) -> f64 {
        self.inner.latency_ms
    }

    /// Why generation stopped (`stop`, `length`, `tool_calls`, `content_filter`, `refusal`, …).
    #[getter]
    fn finish_reason(&self) -> Option<&str> {
        self.inner.finish_reason.as_deref()
    }

    /// The tool calls the model made.
    #[getter]
    fn tool_calls(&self) -> Vec<ToolCall> {
        self.inner.tool_calls.iter().map(ToolCall::from).collect()
    }

    /// Reasoning parts (dicts of type `reasoning`, signatures kept).
    #[getter]
    fn reasoning<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.reasoning)
    }

    /// The refusal text, when the model refused.
    #[getter]
    fn refusal(&self) -> Option<&str> {
        self.inner.refusal.as_deref()
    }

    /// The call's cost in USD, when the model's price is known.
    #[getter]
    fn cost_usd(&self) -> Option<f64> {
        self.inner.cost_usd
    }

    /// The vendor's own answer.
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.raw)
    }

    /// The assistant turn to append to the history (text, reasoning with signatures,
    /// tool calls), as a message dict.
    fn message<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.message())
    }

    /// Every field as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let r = &self.inner;
        repr(
            py,
            "ChatResponse",
            &[
                ("content", shown(py, &r.content)),
                ("provider", shown(py, &r.provider)),
                ("model", shown(py, &r.model)),
                ("key_id", shown(py, &r.key_id)),
                ("finish_reason", shown(py, &r.finish_reason)),
                ("tool_calls", shown(py, &r.tool_calls.len())),
            ],
        )
    }
}

/// One piece of a streamed answer.
#[pyclass(frozen, module = "llm_rotate")]
pub struct StreamChunk {
    inner: llm_rotate::StreamChunk,
}

impl From<llm_rotate::StreamChunk> for StreamChunk {
    fn from(inner: llm_rotate::StreamChunk) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl StreamChunk {
    /// More of the text.
    #[getter]
    fn delta(&self) -> &str {
        &self.inner.delta
    }

    /// Set on the final chunk.
    #[getter]
    fn finish_reason(&self) -> Option<&str> {
        self.inner.finish_reason.as_deref()
    }

    /// Set on the final chunk.
    #[getter]
    fn usage(&self) -> Option<Usage> {
        self.inner.usage.as_ref().map(Usage::from)
    }

    /// The provider streaming.
    #[getter]
    fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The upstream model id.
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }

    /// Pieces of tool calls.
    #[getter]
    fn tool_calls(&self) -> Vec<ToolCallDelta> {
        self.inner
            .tool_calls
            .iter()
            .map(|d| ToolCallDelta {
                index: d.index,
                id: d.id.clone(),
                name: d.name.clone(),
                arguments: d.arguments.clone(),
            })
            .collect()
    }

    /// More of the reasoning text.
    #[getter]
    fn reasoning(&self) -> Option<&str> {
        self.inner.reasoning.as_deref()
    }

    /// The reasoning's signature, when this chunk carries it.
    #[getter]
    fn reasoning_signature(&self) -> Option<&str> {
        self.inner.reasoning_signature.as_deref()
    }

    /// The call's cost in USD, on the final chunk when the price is known.
    #[getter]
    fn cost_usd(&self) -> Option<f64> {
        self.inner.cost_usd
    }

    /// Every field as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let c = &self.inner;
        repr(
            py,
            "StreamChunk",
            &[
                ("delta", shown(py, &c.delta)),
                ("provider", shown(py, &c.provider)),
                ("model", shown(py, &c.model)),
                ("finish_reason", shown(py, &c.finish_reason)),
            ],
        )
    }
}
