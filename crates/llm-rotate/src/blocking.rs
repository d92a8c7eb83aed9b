//! The blocking bridge behind `chat_sync`: a named thread running a current-thread
//! Tokio runtime, fed through a channel, started on first use and joined on drop (the
//! pattern of reqwest's `blocking` module).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::thread::JoinHandle;

use rotate_core::LMRotateError;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

const THREAD_NAME: &str = "llm-rotate-blocking";

struct Running {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    thread: Option<JoinHandle<()>>,
}

/// Runs futures to completion for callers without a runtime.
#[derive(Default)]
pub(crate) struct Bridge {
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    fn sender(&self) -> Result<tokio::sync::mpsc::UnboundedSender<Job>, LMRotateError> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = running.as_ref() {
            return Ok(r.jobs.clone());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| {
                LMRotateError::Blocking("the blocking bridge could not start its runtime")
            })?;
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    while let Some(job) = queue.recv().await {
                        tasks.spawn(job);
                        while tasks.try_join_next().is_some() {}
                    }
                    while tasks.join_next().await.is_some() {}
                });
            })
            .map_err(|_| {
                LMRotateError::Blocking("the blocking bridge could not start its thread")
            })?;
        *running = Some(Running {
            jobs: jobs.clone(),
            thread: Some(thread),
        });
        Ok(jobs)
    }

    /// Runs `future` on the bridge and waits for its output.
    pub(crate) fn run<T, F>(&self, future: F) -> Result<T, LMRotateError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, LMRotateError>> + Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(LMRotateError::Blocking(
                "chat_sync was called inside an async runtime, where it would block it; use `chat(..).await` there",
            ));
        }
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::pin(async move {
            let _ = done.send(future.await);
        });
        self.sender()?
            .send(job)
            .map_err(|_| LMRotateError::Blocking("the blocking bridge has stopped"))?;
        result
            .recv()
            .map_err(|_| LMRotateError::Blocking("the blocking bridge dropped the call"))?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(mut running) = running {
            drop(running.jobs);
            let on_bridge = std::thread::current().name() == Some(THREAD_NAME);
            if let Some(thread) = running.thread.take() {
                if !on_bridge {
                    let _ = thread.join();
                }
            }
        }
    }
}
