//! Job workers a notebook can start, stop and kill.
//!
//! The kernel compiles each cell separately, and tasks spawned from a later
//! cell do not find its runtime. A [`BackgroundWorker`] therefore runs on a
//! thread with a tokio runtime of its own and its own connections (made
//! from the lab's URLs), so it works from any cell, keeps running between
//! cells, and can be killed like a crashed process: dropped at once, without
//! handing its jobs back, so their leases run out and another worker takes
//! them.

use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use super::Lab;
use super::NotebookError;
use crate::jobs::worker::{self, WorkerOptions, WorkerReport};
use crate::jobs::{Changes, JobQueue};
use crate::services::{Origin, connect_mongodb, connect_redis};

/// A worker on a thread of its own.
#[derive(Debug)]
pub struct BackgroundWorker {
    stop: watch::Sender<bool>,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<WorkerReport, NotebookError>>>,
}

impl BackgroundWorker {
    /// Starts a worker on the queue under `prefix` of `lab`'s servers.
    pub fn start(
        lab: &Lab,
        prefix: &str,
        options: WorkerOptions,
    ) -> Result<BackgroundWorker, NotebookError> {
        let (redis_url, mongodb_uri) = (lab.redis_url.clone(), lab.mongodb_uri.clone());
        let (database, prefix) = (lab.db.name().to_owned(), prefix.to_owned());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| NotebookError::Io {
                context: "cannot start a runtime for the worker".into(),
                source,
            })?;
        let (stop, shutdown) = watch::channel(false);
        let (kill, killed) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let client = connect_mongodb(&mongodb_uri, Origin::Lab).await?;
                let outcome = async {
                    let redis = connect_redis(&redis_url, Origin::Lab).await?;
                    let ready = Changes::listen_ready(&redis_url, &prefix).map_err(|source| {
                        NotebookError::Subscribe {
                            what: "queued jobs",
                            source,
                        }
                    })?;
                    let queue = JobQueue::new(redis, prefix);
                    let running = worker::run_woken(
                        queue,
                        client.database(&database),
                        options,
                        shutdown,
                        ready,
                    );
                    tokio::select! {
                        report = running => Ok(report),
                        // Killed: the worker's future is dropped mid-job.
                        _ = killed => Ok(WorkerReport::default()),
                    }
                }
                .await;
                // The client is shut down here, on its own runtime while that
                // still runs. Merely dropped, it would leave the ending of its
                // sessions to a task that the runtime's shutdown (when this
                // thread ends) interrupts after the connection pool is gone,
                // and the driver reports that as a panic on standard error.
                client.shutdown().immediate(true).await;
                outcome
            })
        });
        Ok(BackgroundWorker {
            stop,
            kill: Some(kill),
            thread: Some(thread),
        })
    }

    /// Stops the worker as Ctrl-C would: running jobs are handed back.
    /// Returns what it did.
    pub fn stop(mut self) -> Result<WorkerReport, NotebookError> {
        let _ = self.stop.send(true);
        self.join()
    }

    /// Kills the worker as a crash would: its jobs stay claimed until their
    /// leases run out.
    pub fn kill(mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        let _ = self.join();
    }

    fn join(&mut self) -> Result<WorkerReport, NotebookError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(_)) => Err(NotebookError::Panicked {
                what: "the worker's thread",
            }),
            None => Ok(WorkerReport::default()),
        }
    }
}

impl Drop for BackgroundWorker {
    /// A worker that goes out of scope stops and hands its jobs back.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = self.join();
    }
}
