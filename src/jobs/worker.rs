//! One worker step: claim a job, run its analysis, save the result, complete.

use std::time::Duration;

use mongodb::Database;
use serde_json::Value;

use super::kinds::Analysis;
use super::queue::{Claim, FailOutcome, JobQueue};
use super::results;
use crate::analysis::AnalysisError;

/// The base and the cap of the retry backoff.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// See [`BACKOFF_BASE`].
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No job was ready.
    Idle,
    /// The job succeeded and its result is the one shown.
    Succeeded(String),
    /// The job's claim was taken away meanwhile; its result is not shown.
    Fenced(String),
    /// The job failed; it may be retried (see the outcome).
    Failed(String, FailOutcome),
}

/// The queue or the database could not be reached for the step's own
/// bookkeeping (a failing analysis is a [`Step::Failed`], not this).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Redis.
    #[error("the job queue is unavailable: {0}")]
    Queue(#[from] redis::RedisError),
    /// MongoDB, while saving a result.
    #[error("the result could not be saved: {0}")]
    Results(#[from] mongodb::error::Error),
}

/// Claims one job with a lease of `lease` and runs it to the end.
pub async fn step(
    queue: &JobQueue,
    database: &Database,
    lease: Duration,
) -> Result<Step, StepError> {
    let Some(claim) = queue.claim(lease).await? else {
        return Ok(Step::Idle);
    };
    let params: Value = serde_json::from_str(&claim.params).unwrap_or(Value::Null);
    let analysis = match Analysis::parse(&claim.kind, &params) {
        Ok(analysis) => analysis,
        Err(error) => return fail(queue, &claim, &error.to_string(), false).await,
    };
    match analysis.run(database).await {
        Ok(result) => {
            results::save(database, &claim, &result).await?;
            if queue.complete(&claim).await? {
                Ok(Step::Succeeded(claim.id))
            } else {
                Ok(Step::Fenced(claim.id))
            }
        }
        Err(AnalysisError::InvalidParameter { parameter, message }) => {
            fail(queue, &claim, &format!("{parameter}: {message}"), false).await
        }
        Err(error) => fail(queue, &claim, &error.to_string(), true).await,
    }
}

async fn fail(
    queue: &JobQueue,
    claim: &Claim,
    error: &str,
    retryable: bool,
) -> Result<Step, StepError> {
    let backoff = super::backoff(claim.attempt, BACKOFF_BASE, BACKOFF_CAP);
    let outcome = queue.fail(claim, error, retryable, backoff).await?;
    Ok(Step::Failed(claim.id.clone(), outcome))
}
