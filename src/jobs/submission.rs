//! A job to submit, with its attempts, idempotency key and webhook.

use std::time::Duration;

use super::kinds::Job;

/// A job to submit: [`NewJob::new`] with the defaults, then the builder
/// methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The analysis kind.
    pub kind: String,
    /// Its parameters, as JSON text.
    pub params: String,
    /// Attempts allowed (at least 1).
    pub max_attempts: u32,
    /// Submissions with the same key within `key_lifetime` make one job.
    pub idempotency_key: Option<String>,
    /// How long the idempotency key is remembered.
    pub key_lifetime: Duration,
    /// A URL to POST to when the job is over.
    pub webhook: Option<String>,
}

/// Attempts a job gets unless told otherwise.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// How long an idempotency key is remembered unless told otherwise.
pub const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl NewJob {
    /// A job of `kind` with `params` (JSON text), [`DEFAULT_ATTEMPTS`], no
    /// idempotency key and no webhook.
    pub fn new(kind: impl Into<String>, params: impl Into<String>) -> NewJob {
        NewJob {
            kind: kind.into(),
            params: params.into(),
            max_attempts: DEFAULT_ATTEMPTS,
            idempotency_key: None,
            key_lifetime: DEFAULT_KEY_LIFETIME,
            webhook: None,
        }
    }

    /// `job`, parsed at the edge, in the canonical form the worker reads
    /// back ([`Job::kind`], [`Job::params`]), with the defaults of
    /// [`NewJob::new`].
    pub fn of(job: &Job) -> NewJob {
        NewJob::new(job.kind(), job.params().to_string())
    }

    /// The same job allowing `max_attempts` attempts.
    pub fn attempts(mut self, max_attempts: u32) -> NewJob {
        self.max_attempts = max_attempts;
        self
    }

    /// The same job with an idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> NewJob {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The same job with a webhook.
    pub fn webhook(mut self, url: impl Into<String>) -> NewJob {
        self.webhook = Some(url.into());
        self
    }
}
