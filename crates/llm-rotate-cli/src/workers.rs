//! Connection workers: one single-threaded tokio runtime per thread, each serving the
//! connections handed to it from start to end. A request, the upstream exchange it makes
//! (the HTTP client keeps a pool per thread) and its answer then all run on one thread,
//! with no cross-thread wake-ups; on a small machine that is the cheapest way to move
//! HTTP through a proxy. The acceptor hands connections out in turn.
//!
//! An HTTP/2 client may send everything over one connection. Its streams are not
//! confined to the connection's worker: hyper runs each stream through an executor,
//! and [`Workers::executor`] hands them out in turn as well.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The worker threads. Dropping them stops them (connections still open are closed).
pub struct Workers {
    /// Dropping a worker's sender ends its runtime.
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    spread: Spread,
}

/// Runs futures on the workers in turn: hyper's executor for HTTP/2 streams.
#[derive(Clone)]
pub struct Spread {
    handles: Arc<[Handle]>,
    next: Arc<AtomicUsize>,
}

impl Spread {
    fn next(&self) -> &Handle {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[index]
    }
}

impl<F> hyper::rt::Executor<F> for Spread
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        self.next().spawn(future);
    }
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let (mut stops, mut threads, mut handles) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("llm-rotate-worker-{index}"))
                .spawn(move || {
                    let _ = runtime.block_on(stopped);
                })?;
            stops.push(stop);
            threads.push(thread);
        }
        let spread = Spread {
            handles: handles.into(),
            next: Arc::new(AtomicUsize::new(0)),
        };
        Ok(Self {
            stops,
            threads,
            spread,
        })
    }

    /// An executor that runs futures on the workers in turn.
    pub fn executor(&self) -> Spread {
        self.spread.clone()
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
        // the socket joins the worker's reactor from inside the worker
        self.spread.next().spawn(async move {
            if let Ok(stream) = TcpStream::from_std(stream) {
                serve(stream).await;
            }
        });
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stops.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use std::io::{Read, Write};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn connections_go_to_the_workers_in_turn_and_are_served_there() {
        let workers = Workers::start(2).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let served_by = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let mut names = Vec::new();
            for _ in 0..4 {
                let mut client = std::net::TcpStream::connect(address).unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                workers.serve(stream, |mut stream| async move {
                    // echo one byte, then say which thread did it
                    let mut byte = [0u8; 1];
                    if stream.read_exact(&mut byte).await.is_ok() {
                        let name = std::thread::current().name().unwrap_or("").to_owned();
                        let _ = stream.write_all(name.as_bytes()).await;
                    }
                });
                client.write_all(b"x").unwrap();
                client.shutdown(std::net::Shutdown::Write).unwrap();
                let mut name = String::new();
                // the workers run on their own threads: blocking this one is fine
                client.read_to_string(&mut name).unwrap();
                names.push(name);
            }
            names
        });
        assert_eq!(
            served_by,
            [
                "llm-rotate-worker-0",
                "llm-rotate-worker-1",
                "llm-rotate-worker-0",
                "llm-rotate-worker-1"
            ]
        );
        // dropping the workers stops their threads (the test would hang otherwise)
        drop(workers);
    }

    #[test]
    fn the_executor_runs_futures_on_the_workers_in_turn() {
        use hyper::rt::Executor;
        let workers = Workers::start(2).unwrap();
        let executor = workers.executor();
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            executor.execute(async move {
                let name = std::thread::current().name().unwrap_or("").to_owned();
                tx.send(name).unwrap();
            });
        }
        let mut names: Vec<String> = (0..4).map(|_| rx.recv().unwrap()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "llm-rotate-worker-0",
                "llm-rotate-worker-0",
                "llm-rotate-worker-1",
                "llm-rotate-worker-1"
            ]
        );
    }
}
