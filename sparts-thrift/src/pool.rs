//! The worker threads that run handler code, so a slow handler holds a
//! thread of its own and never the runtime's.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of named threads taking jobs from one queue. Dropping the
/// pool lets each thread finish its job and exit.
#[derive(Debug)]
pub(crate) struct Pool {
    jobs: Sender<Job>,
}

impl Pool {
    /// Starts `threads` threads named `<name>-<i>`.
    pub(crate) fn start(name: &str, threads: usize) -> Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let queue: Receiver<Job> = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    while let Ok(job) = queue.recv() {
                        // The dispatcher catches handler panics; this keeps
                        // the thread alive should anything else unwind.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .map_err(Error::Spawn)?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on a worker thread; `None` if the pool is gone or the job
    /// unwound.
    pub(crate) async fn run<R, F>(&self, job: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(job());
            }))
            .ok()?;
        result.await.ok()
    }
}
