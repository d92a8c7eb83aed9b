//! Connection workers: one single-threaded tokio runtime per thread, each serving the
//! connections handed to it from start to end. A request, the upstream exchange it makes
//! (the HTTP client keeps a pool per thread) and its answer then all run on one thread,
//! with no cross-thread wake-ups; on a small machine that is the cheapest way to move
//! HTTP through a proxy. The acceptor hands connections out in turn.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A running worker thread.
struct Worker {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The worker threads. Dropping them stops them (connections still open are closed).
pub struct Workers {
    workers: Vec<Worker>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let mut workers = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("llm-rotate-worker-{index}"))
                .spawn(move || {
                    let _ = runtime.block_on(stopped);
                })?;
            workers.push(Worker {
                handle,
                stop: Some(stop),
                thread: Some(thread),
            });
        }
        Ok(Self {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// One worker per available core.
    pub fn default_count() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// Hands `stream` to the next worker, which runs `serve(stream)` to its end.
    pub fn serve<S, F>(&self, stream: TcpStream, serve: S)
    where
        S: FnOnce(TcpStream) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(stream) = stream.into_std() else {
            return;
        };
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let worker = &self.workers[index];
        // the socket joins the worker's reactor from inside the worker
        worker.handle.spawn(async move {
            if let Ok(stream) = TcpStream::from_std(stream) {
                serve(stream).await;
            }
        });
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            if let Some(stop) = worker.stop.take() {
                let _ = stop.send(());
            }
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
