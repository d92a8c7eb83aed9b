//! Rust futures as asyncio futures, safe at interpreter exit.
//!
//! [`future`] creates an asyncio future on the running loop, runs the work on the
//! engine's Tokio runtime, and hands the outcome back through
//! `loop.call_soon_threadsafe`, so the result is set on the loop's own thread.
//! Cancelling the asyncio future aborts the Tokio task, which drops the call and with
//! it the upstream request.
//!
//! The only moments a Tokio thread holds the GIL are those deliveries (the values are
//! converted to Python objects then, not while the call runs). Each is counted, and
//! [`shutdown`], registered with `atexit`, stops new ones and waits for those under way
//! with the GIL released: a thread still inside Python while the interpreter finalizes
//! would abort the process.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use pyo3::IntoPyObjectExt;
use pyo3_async_runtimes::tokio::get_runtime;
use tokio::task::AbortHandle;

/// Deliveries holding (or about to take) the GIL.
static INSIDE: AtomicUsize = AtomicUsize::new(0);
/// Set at interpreter exit: no more deliveries.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// What a finished call turns into, with the GIL, on delivery.
pub type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// An asyncio future of the running loop, resolved with what `work` gives.
pub fn future<'py, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Outcome> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), py_future.clone().unbind());
    let task = get_runtime().spawn(async move {
        let outcome = work.await;
        // the GIL may be busy: wait for it off the runtime's worker threads
        drop(tokio::task::spawn_blocking(move || {
            deliver(loop_ref, future_ref, outcome)
        }));
    });
    py_future.call_method1(
        "add_done_callback",
        (Canceller {
            task: task.abort_handle(),
        },),
    )?;
    Ok(py_future)
}

/// Sets the outcome on the future, on its loop's thread (unless the interpreter is
/// exiting, or the future is already done).
fn deliver(event_loop: Py<PyAny>, future: Py<PyAny>, outcome: Outcome) {
    INSIDE.fetch_add(1, Ordering::SeqCst);
    if !CLOSING.load(Ordering::SeqCst) {
        Python::attach(|py| {
            let (setter, value) = match outcome(py) {
                Ok(value) => (resolve_fn(py), value),
                Err(error) => (reject_fn(py), error.into_value(py).into_any()),
            };
            if let Ok(setter) = setter {
                // a closed loop refuses: nobody waits for the answer then
                let _ =
                    event_loop.call_method1(py, "call_soon_threadsafe", (setter, future, value));
            }
            drop(event_loop);
        });
    }
    INSIDE.fetch_sub(1, Ordering::SeqCst);
}

/// Aborts the Tokio task when its asyncio future is cancelled.
#[pyclass(frozen, module = "llm_rotate._native")]
struct Canceller {
    task: AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

/// `future.set_result(value)` unless it is done (cancelled meanwhile).
#[pyfunction]
fn resolve(future: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if !future.call_method0("done")?.is_truthy()? {
        future.call_method1("set_result", (value,))?;
    }
    Ok(())
}

/// `future.set_exception(error)` unless it is done.
#[pyfunction]
fn reject(future: &Bound<'_, PyAny>, error: &Bound<'_, PyAny>) -> PyResult<()> {
    if !future.call_method0("done")?.is_truthy()? {
        future.call_method1("set_exception", (error,))?;
    }
    Ok(())
}

/// `asyncio.get_running_loop()` (the function looked up once).
fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
}

static RESOLVE: PyOnceLock<Py<PyCFunction>> = PyOnceLock::new();
static REJECT: PyOnceLock<Py<PyCFunction>> = PyOnceLock::new();

fn resolve_fn(py: Python<'_>) -> PyResult<Py<PyCFunction>> {
    RESOLVE
        .get_or_try_init(py, || wrap_pyfunction!(resolve, py).map(Bound::unbind))
        .map(|f| f.clone_ref(py))
}

fn reject_fn(py: Python<'_>) -> PyResult<Py<PyCFunction>> {
    REJECT
        .get_or_try_init(py, || wrap_pyfunction!(reject, py).map(Bound::unbind))
        .map(|f| f.clone_ref(py))
}

/// Stops deliveries and waits (at most a second, the GIL released) for those under way;
/// registered with `atexit` by the package.
#[pyfunction]
#[allow(
    clippy::disallowed_methods,
    reason = "exit waits on other threads, not on a clock"
)]
pub fn shutdown(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        for _ in 0..1000 {
            if INSIDE.load(Ordering::SeqCst) == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the bridge's Python-side pieces on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Canceller>()?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    Ok(())
}

/// An outcome that is `value` made a Python object, or `error` (a `PyErr` made without
/// the GIL, which Python fills in when it is raised).
pub fn outcome<T>(result: PyResult<T>) -> Outcome
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    Box::new(move |py| {
        let value = result?;
        value.into_bound_py_any(py).map(Bound::unbind)
    })
}

/// An outcome of an engine call: its value made a Python object, or its error the
/// matching exception (built on delivery, with the GIL).
pub fn engine<T>(result: Result<T, llm_rotate::LMRotateError>) -> Outcome
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    match result {
        Ok(value) => outcome(Ok(value)),
        Err(error) => Box::new(move |_py| Err(crate::errors::to_py(error))),
    }
}

/// A future already resolved with `None` (for calls that finish at once), or `None`
/// itself when no event loop runs on this thread.
pub fn finished(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let Ok(event_loop) = running_loop(py) else {
        return Ok(py.None());
    };
    let future = event_loop.call_method0("create_future")?;
    future.call_method1("set_result", (py.None(),))?;
    Ok(future.unbind())
}
