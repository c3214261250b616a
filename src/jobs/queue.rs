//! [`JobQueue`]: submit, claim, heartbeat, complete, fail, cancel, reap.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};

use super::scripts;

/// The scripts with the prelude in front, loaded once per process (redis
/// sends their SHA1, and the text only when the server does not know it).
pub(super) mod compiled {
    use std::sync::LazyLock;

    use redis::Script;

    use super::scripts;

    macro_rules! with_prelude {
        ($($name:ident),* $(,)?) => {
            $(
                pub static $name: LazyLock<Script> = LazyLock::new(|| {
                    Script::new(&format!("{}{}", scripts::PRELUDE, scripts::$name))
                });
            )*
        };
    }

    with_prelude!(
        SUBMIT,
        CLAIM,
        HEARTBEAT,
        PROGRESS,
        COMPLETE,
        FAIL,
        CANCEL,
        REAP,
        REQUEUE,
        RELEASE,
        WEBHOOK_CLAIM,
        WEBHOOK_RESULT,
    );
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

/// The unfinished jobs and the dead letters, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Waiting for a worker.
    pub queued: u64,
    /// Held by a worker.
    pub running: u64,
    /// Waiting for their next attempt.
    pub waiting_retry: u64,
    /// On the dead-letter list.
    pub dead: u64,
}

/// How long a finished job is kept unless the queue is told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The queue, under a key prefix (`jobs:` in the lab).
#[derive(Clone)]
pub struct JobQueue {
    redis: ConnectionManager,
    prefix: String,
    retention: Duration,
    webhooks: std::sync::Arc<super::webhooks::WebhookPolicy>,
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
            webhooks: Default::default(),
        }
    }

    /// The same queue, delivering webhooks (and accepting them at submit)
    /// only where `policy` allows.
    pub fn with_webhook_policy(mut self, policy: super::webhooks::WebhookPolicy) -> JobQueue {
        self.webhooks = std::sync::Arc::new(policy);
        self
    }

    /// Where this queue's webhooks may go.
    pub fn webhook_policy(&self) -> &super::webhooks::WebhookPolicy {
        &self.webhooks
    }

    /// The same queue, keeping jobs submitted from now on for `retention`
    /// once they finish (succeeded, failed without retry, or cancelled;
    /// dead letters are kept until requeued).
    pub fn with_retention(mut self, retention: Duration) -> JobQueue {
        self.retention = retention;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// Runs `script` on `claim` (its id and token); `true` when the script
    /// answers 1, i.e. the claim still held the job.
    async fn with_claim(&self, script: &'static Script, claim: &Claim) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .run_script(script)
            .arg(&claim.id)
            .arg(claim.token)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    pub(super) fn run_script(&self, script: &'static Script) -> redis::ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.prefix);
        invocation
    }

    /// Submits `job` and returns its id and whether it is new: with an
    /// idempotency key, a second submission within the key's lifetime returns
    /// the first one's id instead of making another job.
    pub async fn submit(&self, job: &NewJob) -> RedisResult<(String, bool)> {
        let id = bson::oid::ObjectId::new().to_hex();
        let mut redis = self.redis.clone();
        let (id, created): (String, i64) = self
            .run_script(&compiled::SUBMIT)
            .arg(&id)
            .arg(&job.kind)
            .arg(&job.params)
            .arg(job.max_attempts.max(1))
            .arg(job.idempotency_key.as_deref().unwrap_or(""))
            .arg(job.key_lifetime.as_secs().max(1))
            .arg(self.retention.as_millis().max(1) as u64)
            .arg(job.webhook.as_deref().unwrap_or(""))
            .invoke_async(&mut redis)
            .await?;
        Ok((id, created == 1))
    }

    /// Claims the job that has been ready longest, with a lease of `lease`.
    pub async fn claim(&self, lease: Duration) -> RedisResult<Option<Claim>> {
        let mut redis = self.redis.clone();
        let claimed: Option<(String, u64, u32, String, String)> = self
            .run_script(&compiled::CLAIM)
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
            .run_script(&compiled::HEARTBEAT)
            .arg(&claim.id)
            .arg(claim.token)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(kept == 1)
    }

    /// Records how far `claim`'s run has got; `false` when the claim is no
    /// longer the job's.
    pub async fn progress(&self, claim: &Claim, progress: &Progress) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let kept: i64 = self
            .run_script(&compiled::PROGRESS)
            .arg(&claim.id)
            .arg(claim.token)
            .arg(progress.done)
            .arg(progress.total)
            .arg(&progress.note)
            .invoke_async(&mut redis)
            .await?;
        Ok(kept == 1)
    }

    /// Marks the job succeeded; `false` when `claim` no longer holds it
    /// (then its result must not be shown).
    pub async fn complete(&self, claim: &Claim) -> RedisResult<bool> {
        self.with_claim(&compiled::COMPLETE, claim).await
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
            .run_script(&compiled::FAIL)
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
            .run_script(&compiled::CANCEL)
            .arg(id)
            .invoke_async(&mut redis)
            .await?;
        Ok(before.as_deref().and_then(JobState::parse))
    }

    /// Hands `claim`'s job back to the queue (a worker stopping); the attempt
    /// does not count. `false` when the claim no longer holds the job.
    pub async fn release(&self, claim: &Claim) -> RedisResult<bool> {
        self.with_claim(&compiled::RELEASE, claim).await
    }

    /// Takes back the leases that ran out; returns how many.
    pub async fn reap(&self) -> RedisResult<u64> {
        let mut redis = self.redis.clone();
        self.run_script(&compiled::REAP)
            .invoke_async(&mut redis)
            .await
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
            .run_script(&compiled::REQUEUE)
            .arg(id)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    /// How many jobs wait, run, or wait to retry, and how many dead
    /// letters there are.
    pub async fn stats(&self) -> RedisResult<QueueStats> {
        let mut redis = self.redis.clone();
        let index = |state: JobState| format!("{}index:{}", self.prefix, state.as_str());
        let (queued, running, waiting_retry, dead): (u64, u64, u64, u64) = redis::pipe()
            .zcard(index(JobState::Queued))
            .zcard(index(JobState::Running))
            .zcard(index(JobState::WaitingRetry))
            .llen(format!("{}dead", self.prefix))
            .query_async(&mut redis)
            .await?;
        Ok(QueueStats {
            queued,
            running,
            waiting_retry,
            dead,
        })
    }

    /// Job `id` as stored, or `None` (unknown, or expired).
    pub async fn get(&self, id: &str) -> RedisResult<Option<JobRecord>> {
        let mut redis = self.redis.clone();
        let fields: HashMap<String, String> =
            redis.hgetall(format!("{}job:{id}", self.prefix)).await?;
        Ok(record(id, &fields))
    }

    /// Up to `limit` jobs, newest first, in `state` or in any, starting
    /// after job id `after` (keyset paging: ids grow with submission time).
    pub async fn list(
        &self,
        state: Option<JobState>,
        after: Option<&str>,
        limit: usize,
    ) -> RedisResult<Vec<JobRecord>> {
        let index = format!(
            "{}index:{}",
            self.prefix,
            state.map_or("all", JobState::as_str)
        );
        let mut redis = self.redis.clone();
        let mut start = after.map_or_else(|| "+".to_owned(), |id| format!("({id}"));
        let mut jobs = Vec::new();
        while jobs.len() < limit {
            let ids: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                .arg(&index)
                .arg(&start)
                .arg("-")
                .arg("LIMIT")
                .arg(0)
                .arg(limit - jobs.len())
                .query_async(&mut redis)
                .await?;
            let Some(last) = ids.last() else { break };
            start = format!("({last}");
            for id in &ids {
                match self.get(id).await? {
                    Some(job) if state.is_none_or(|wanted| job.state == wanted) => jobs.push(job),
                    Some(_) => {}
                    None => {
                        // Expired after its retention: drop it from the index.
                        let _: () = redis.zrem(&index, id).await?;
                    }
                }
            }
        }
        Ok(jobs)
    }
}

/// The job stored as `fields`, or `None` when there is none.
fn record(id: &str, fields: &HashMap<String, String>) -> Option<JobRecord> {
    let number = |name: &str| -> u64 {
        fields
            .get(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    let state = JobState::parse(fields.get("state")?)?;
    let progress = fields.get("progress_total").map(|_| Progress {
        done: number("progress_done"),
        total: number("progress_total"),
        note: fields.get("progress_note").cloned().unwrap_or_default(),
    });
    Some(JobRecord {
        id: id.to_owned(),
        kind: fields.get("kind").cloned().unwrap_or_default(),
        params: fields.get("params").cloned().unwrap_or_default(),
        state,
        attempts: number("attempts") as u32,
        max_attempts: number("max_attempts") as u32,
        token: number("token"),
        error: fields.get("error").cloned(),
        created_ms: number("created_ms"),
        updated_ms: number("updated_ms"),
        progress,
        webhook: fields.get("webhook").cloned(),
        webhook_state: fields.get("webhook_state").cloned(),
    })
}
