//! A worker's hold on a job, and what a failure did.

use serde_json::Value;

use super::id::JobId;
use super::kinds::Job;
use crate::analysis::AnalysisError;

/// A worker's hold on a job: the fencing token proves it is still the
/// current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The job.
    pub id: JobId,
    /// This claim's fencing token; every claim gets a larger one.
    pub token: u64,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// What analysis it asks for.
    pub kind: String,
    /// Its parameters, as JSON text.
    pub params: String,
}

impl Claim {
    /// The job this claim asks for, read back from its stored form with
    /// the same [`Job::parse`] the API and `lab jobs submit` use (drills
    /// only if `drills`). Stored parameters that are not JSON at all are
    /// refused as such, never read as `null`.
    pub fn job(&self, drills: bool) -> Result<Job, AnalysisError> {
        let params: Value = serde_json::from_str(&self.params).map_err(|error| {
            AnalysisError::invalid(
                "params",
                format!(
                    "the stored parameters are not JSON ({error}): {:?}",
                    self.params
                ),
            )
        })?;
        Job::parse(&self.kind, &params, drills)
    }
}

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// The claim was no longer the job's: nothing changed.
    Fenced,
    /// The job will run again after the backoff.
    WillRetry,
    /// The job failed for good.
    Failed,
}
