//! A job as the queue stores it: its state, its record, its progress.

use super::id::JobId;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it.
    Running,
    /// Failed, and waiting for its next attempt.
    WaitingRetry,
    /// Finished with a result.
    Succeeded,
    /// Finished without one.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::WaitingRetry => "waiting_retry",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Every state, in the order a job meets them.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::WaitingRetry,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Every state's name, for messages: `queued, running, ...`.
    pub fn names() -> String {
        JobState::ALL.map(JobState::as_str).join(", ")
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// What analysis it asks for.
    pub kind: String,
    /// Its parameters, as JSON text.
    pub params: String,
    /// Where it stands.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The token of the latest claim (0 before the first).
    pub token: u64,
    /// The last error, if any.
    pub error: Option<String>,
    /// When it was submitted (milliseconds since 1970, Redis's clock).
    pub created_ms: u64,
    /// When its state last changed.
    pub updated_ms: u64,
    /// The running attempt's progress, when its analysis reports one.
    pub progress: Option<Progress>,
    /// Where its webhook goes, if it has one.
    pub webhook: Option<String>,
    /// `pending`, `retrying`, `delivered` or `abandoned` once the job is over.
    pub webhook_state: Option<String>,
}

/// How far a running analysis has got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Steps done.
    pub done: u64,
    /// Steps in all.
    pub total: u64,
    /// What the steps are (`"months"`).
    pub note: String,
}
