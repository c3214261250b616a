//! One step of a reliable worker, on the lab's job queue (`lab::jobs`):
//! claim, check the parameters, run, save the result, complete.
//!
//! Scenario: the queue, leases and fencing tokens are given
//! ([`JobQueue`]); write what a worker does with one job. The rules:
//!
//! - no job ready: [`Outcome::Idle`];
//! - parameters that [`Analysis::parse`] refuses fail the job at once, not
//!   retryable (`queue.fail(&claim, message, false, Duration::ZERO)`):
//!   [`Outcome::Rejected`] with the message; params that are not JSON are
//!   refused too, whatever the kind (never read them as `{}`);
//! - otherwise run the analysis; if it fails, fail the job as retryable
//!   with a backoff of [`RETRY_AFTER`], the analysis's error as its
//!   message: [`Outcome::Failed`];
//! - save the result with `results::save` *before* completing (a run whose
//!   completion is refused must leave nothing visible), then
//!   `queue.complete(&claim)`: [`Outcome::Done`], or [`Outcome::Fenced`]
//!   when the claim was no longer the job's;
//! - a claim or a save that fails is an error ([`StepError`]): the job
//!   stays claimed, and runs again when its lease ends.

use std::time::Duration;

use lab::jobs::kinds::Analysis;
use lab::jobs::{JobId, JobQueue, results};
use lab::mongodb::Database;

/// How long a job whose analysis failed waits before its next attempt.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No job was ready.
    Idle,
    /// Job `id` had bad parameters; the message says which.
    Rejected(JobId, String),
    /// Job `id`'s analysis failed; it will be retried.
    Failed(JobId),
    /// Job `id` succeeded and its result is the one shown.
    Done(JobId),
    /// Job `id`'s claim was taken away; its result is not shown.
    Fenced(JobId),
}

/// Something the worker itself could not reach.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Redis.
    #[error("the queue is unavailable: {0}")]
    Queue(#[from] lab::redis::RedisError),
    /// MongoDB.
    #[error("the result could not be saved: {0}")]
    Results(#[from] lab::mongodb::error::Error),
}

/// Claims one job with a lease of `lease` and takes it to the end.
pub async fn work_one(
    queue: &JobQueue,
    database: &Database,
    lease: Duration,
) -> Result<Outcome, StepError> {
    // TODO: claim; parse the parameters with Analysis::parse; run; save the result; complete. Follow the rules at the top of this file.
    todo!()
}
