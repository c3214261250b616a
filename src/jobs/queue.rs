//! [`JobQueue`]: submit, claim, heartbeat, complete, fail, cancel, reap.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};

use super::scripts;

/// The scripts, loaded once per process (redis sends their SHA1 and the
/// text only when the server does not know it yet).
mod compiled {
    use std::sync::LazyLock;

    use redis::Script;

    use super::scripts;

    pub static SUBMIT: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::SUBMIT));
    pub static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::CLAIM));
    pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::HEARTBEAT));
    pub static COMPLETE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::COMPLETE));
    pub static FAIL: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::FAIL));
    pub static CANCEL: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::CANCEL));
    pub static REAP: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::REAP));
    pub static REQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::REQUEUE));
    pub static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::RELEASE));
}

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

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::WaitingRetry,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
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
    pub id: String,
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
}

/// A worker's hold on a job: the fencing token proves it is still the
/// current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The job.
    pub id: String,
    /// This claim's fencing token; every claim gets a larger one.
    pub token: u64,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// What analysis it asks for.
    pub kind: String,
    /// Its parameters, as JSON text.
    pub params: String,
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

/// How long a finished job is kept unless the queue is told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The queue, under a key prefix (`jobs:` in the lab).
#[derive(Clone)]
pub struct JobQueue {
    redis: ConnectionManager,
    prefix: String,
    retention: Duration,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl JobQueue {
    /// A queue whose keys start with `prefix`, keeping finished jobs for
    /// [`DEFAULT_RETENTION`] (their results stay in MongoDB).
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>) -> JobQueue {
        JobQueue {
            redis,
            prefix: prefix.into(),
            retention: DEFAULT_RETENTION,
        }
    }

    /// The same queue, keeping jobs submitted from now on for `retention`
    /// once they finish (succeeded, failed without retry, or cancelled;
    /// dead letters are kept until requeued).
    pub fn with_retention(mut self, retention: Duration) -> JobQueue {
        self.retention = retention;
        self
    }

    fn run(&self, script: &'static Script) -> redis::ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.prefix);
        invocation
    }

    /// Submits a job and returns its id and whether it is new. With an
    /// idempotency key, a second submission within `key_lifetime` returns
    /// the first one's id instead of making another job.
    pub async fn submit(
        &self,
        kind: &str,
        params: &str,
        max_attempts: u32,
        idempotency_key: Option<&str>,
        key_lifetime: Duration,
    ) -> RedisResult<(String, bool)> {
        let id = bson::oid::ObjectId::new().to_hex();
        let mut redis = self.redis.clone();
        let (id, created): (String, i64) = self
            .run(&compiled::SUBMIT)
            .arg(&id)
            .arg(kind)
            .arg(params)
            .arg(max_attempts.max(1))
            .arg(idempotency_key.unwrap_or(""))
            .arg(key_lifetime.as_secs().max(1))
            .arg(self.retention.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok((id, created == 1))
    }

    /// Claims the job that has been ready longest, with a lease of `lease`.
    pub async fn claim(&self, lease: Duration) -> RedisResult<Option<Claim>> {
        let mut redis = self.redis.clone();
        let claimed: Option<(String, u64, u32, String, String)> = self
            .run(&compiled::CLAIM)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(claimed.map(|(id, token, attempt, kind, params)| Claim {
            id,
            token,
            attempt,
            kind,
            params,
        }))
    }

    /// Extends `claim`'s lease by `lease`; `false` when the claim is no
    /// longer the job's, and the worker must stop.
    pub async fn heartbeat(&self, claim: &Claim, lease: Duration) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let kept: i64 = self
            .run(&compiled::HEARTBEAT)
            .arg(&claim.id)
            .arg(claim.token)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(kept == 1)
    }

    /// Marks the job succeeded; `false` when `claim` no longer holds it
    /// (then its result must not be shown).
    pub async fn complete(&self, claim: &Claim) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .run(&compiled::COMPLETE)
            .arg(&claim.id)
            .arg(claim.token)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    /// Records a failure of `claim`. A retryable one waits `backoff` and
    /// runs again while attempts remain; a non-retryable one (bad
    /// parameters) fails at once.
    pub async fn fail(
        &self,
        claim: &Claim,
        error: &str,
        retryable: bool,
        backoff: Duration,
    ) -> RedisResult<FailOutcome> {
        let mut redis = self.redis.clone();
        let outcome: i64 = self
            .run(&compiled::FAIL)
            .arg(&claim.id)
            .arg(claim.token)
            .arg(error)
            .arg(if retryable { "1" } else { "0" })
            .arg(backoff.as_millis() as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(match outcome {
            1 => FailOutcome::WillRetry,
            2 => FailOutcome::Failed,
            _ => FailOutcome::Fenced,
        })
    }

    /// Cancels job `id` unless it is over. Returns the state it was in, or
    /// `None` for an unknown id.
    pub async fn cancel(&self, id: &str) -> RedisResult<Option<JobState>> {
        let mut redis = self.redis.clone();
        let before: Option<String> = self
            .run(&compiled::CANCEL)
            .arg(id)
            .invoke_async(&mut redis)
            .await?;
        Ok(before.as_deref().and_then(JobState::parse))
    }

    /// Hands `claim`'s job back to the queue (a worker stopping); the attempt
    /// does not count. `false` when the claim no longer holds the job.
    pub async fn release(&self, claim: &Claim) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .run(&compiled::RELEASE)
            .arg(&claim.id)
            .arg(claim.token)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    /// Takes back the leases that ran out; returns how many.
    pub async fn reap(&self) -> RedisResult<u64> {
        let mut redis = self.redis.clone();
        self.run(&compiled::REAP).invoke_async(&mut redis).await
    }

    /// The ids on the dead-letter list, oldest first.
    pub async fn dead_letters(&self) -> RedisResult<Vec<String>> {
        let mut redis = self.redis.clone();
        redis.lrange(format!("{}dead", self.prefix), 0, -1).await
    }

    /// Queues a dead-lettered job again with fresh attempts; `false` if it
    /// was not on the list.
    pub async fn requeue(&self, id: &str) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .run(&compiled::REQUEUE)
            .arg(id)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    /// Job `id` as stored, or `None`.
    pub async fn get(&self, id: &str) -> RedisResult<Option<JobRecord>> {
        let mut redis = self.redis.clone();
        let fields: HashMap<String, String> =
            redis.hgetall(format!("{}job:{id}", self.prefix)).await?;
        let number = |name: &str| fields.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        let Some(state) = fields.get("state").and_then(|s| JobState::parse(s)) else {
            return Ok(None);
        };
        Ok(Some(JobRecord {
            id: id.to_owned(),
            kind: fields.get("kind").cloned().unwrap_or_default(),
            params: fields.get("params").cloned().unwrap_or_default(),
            state,
            attempts: number("attempts") as u32,
            max_attempts: number("max_attempts") as u32,
            token: number("token"),
            error: fields.get("error").cloned(),
        }))
    }
}
