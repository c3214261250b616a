//! The benchmark's side of the job queue: no-op jobs submitted many at a
//! time, and the wait until the workers have run them all.

use std::time::Duration;

use futures_util::StreamExt;

use crate::bench::failed;
use crate::control::LabError;
use lab::jobs::{JobQueue, NewJob};

/// Submissions the benchmark keeps in flight at once.
pub const SUBMITS_IN_FLIGHT: usize = 64;

/// What a failing Redis call of the benchmark's queue says.
pub(super) const QUEUE_FAILED: &str = "the benchmark's job queue failed";

/// Waits until no job is queued, running or waiting to retry.
pub(super) async fn drained(queue: &JobQueue) -> Result<(), LabError> {
    loop {
        let stats = queue.stats().await.map_err(failed(QUEUE_FAILED))?;
        if stats.queued + stats.running + stats.waiting_retry == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Submits `count` no-op jobs, [`SUBMITS_IN_FLIGHT`] at a time.
pub(super) async fn submit_noops(queue: &JobQueue, count: usize) -> Result<(), LabError> {
    let job = NewJob::new("noop", "{}");
    let mut submissions = futures_util::stream::iter(0..count)
        .map(|_| queue.submit(&job))
        .buffer_unordered(SUBMITS_IN_FLIGHT);
    while let Some(submitted) = submissions.next().await {
        submitted.map_err(failed(QUEUE_FAILED))?;
    }
    Ok(())
}
