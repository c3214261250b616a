//! A worker running in the background of a test, on the test's services,
//! until the test stops it or drops it.

use lab::jobs::worker::{self, WorkerOptions, WorkerReport};
use lab::jobs::{Changes, JobQueue};
use lab::mongodb::Database;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A worker task started by the test; asked to stop when dropped.
pub struct BackgroundWorker {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<WorkerReport>>,
}

impl BackgroundWorker {
    /// A worker that looks for jobs every `options.poll`.
    pub fn start(queue: &JobQueue, database: &Database, options: WorkerOptions) -> Self {
        BackgroundWorker::start_woken(queue, database, options, Changes::polling())
    }

    /// A worker that also looks for jobs when `ready` hears of one.
    pub fn start_woken(
        queue: &JobQueue,
        database: &Database,
        options: WorkerOptions,
        ready: Changes,
    ) -> Self {
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(worker::run_woken(
            queue.clone(),
            database.clone(),
            options,
            shutdown,
            ready,
        ));
        BackgroundWorker {
            stop,
            task: Some(task),
        }
    }

    /// Asks the worker to stop and waits until it has: what it did.
    pub async fn stop(mut self) -> WorkerReport {
        let _ = self.stop.send(true);
        let task = self.task.take().expect("a worker is stopped once");
        task.await.expect("the worker task panicked")
    }
}

impl Drop for BackgroundWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
