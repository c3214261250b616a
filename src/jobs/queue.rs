//! [`JobQueue`]: submit, claim, heartbeat, complete, fail, cancel, reap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::{AsyncCommands, RedisResult, Script};

pub use super::claim::{Claim, FailOutcome};
use super::id::JobId;
use super::keys::{Keyspace, Shard, ShardCount};
pub use super::record::{JobRecord, JobState, Progress};
pub use super::submission::{DEFAULT_ATTEMPTS, DEFAULT_KEY_LIFETIME, NewJob};
use crate::services::RedisConnection;

/// The scripts with the prelude in front, loaded once per process (redis
/// sends their SHA1, and the text only when the server does not know it).
pub(super) mod compiled {
    use std::sync::LazyLock;

    use redis::Script;

    use crate::jobs::scripts;

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

/// How many ids of a ready queue a claim reads ahead, per job it wants:
/// enough that workers claiming together mostly take different jobs.
const CANDIDATES_PER_CLAIM: usize = 4;

/// One job as the claim script returns it: id, token, attempt, kind, params.
type ClaimRow = (String, u64, u32, String, String);

/// How many expired leases one reaping script looks at.
const REAP_BATCH: usize = 64;

/// The queue, under a key prefix (`jobs:` in the lab), on one Redis or a
/// cluster, split over one or more shards ([`keys`](super::keys)).
#[derive(Clone)]
pub struct JobQueue {
    redis: RedisConnection,
    keys: Arc<Keyspace>,
    /// Where the next claim starts looking, so workers visit every shard.
    next_shard: Arc<AtomicUsize>,
    retention: Duration,
    webhooks: Arc<super::webhooks::WebhookPolicy>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("prefix", &self.keys.prefix())
            .field("shards", &self.keys.shards().len())
            .finish()
    }
}

impl JobQueue {
    /// A queue whose keys start with `prefix`, in one shard, keeping
    /// finished jobs for [`DEFAULT_RETENTION`] (their results stay in
    /// MongoDB).
    pub fn new(redis: impl Into<RedisConnection>, prefix: impl Into<String>) -> JobQueue {
        let prefix = prefix.into();
        JobQueue {
            redis: redis.into(),
            keys: Arc::new(Keyspace::new(&prefix, ShardCount::ONE)),
            next_shard: Arc::default(),
            retention: DEFAULT_RETENTION,
            webhooks: Default::default(),
        }
    }

    /// The same queue split over `shards` shards (every process of a queue
    /// must use the same number).
    pub fn with_shards(mut self, shards: ShardCount) -> JobQueue {
        self.keys = Arc::new(Keyspace::new(self.keys.prefix(), shards));
        self
    }

    /// The same queue, delivering webhooks (and accepting them at submit)
    /// only where `policy` allows.
    pub fn with_webhook_policy(mut self, policy: super::webhooks::WebhookPolicy) -> JobQueue {
        self.webhooks = Arc::new(policy);
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
        self.keys.prefix()
    }

    /// The names of this queue's keys, for tools and tests that look at
    /// them.
    pub fn keys(&self) -> &Keyspace {
        &self.keys
    }

    pub(super) fn connection(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// `script`, to run on `shard` for the jobs `ids` (their keys declared
    /// after the shard's, see [`scripts`](super::scripts)) and `own_key` if
    /// any; the caller adds the script's own arguments.
    pub(super) fn on_shard(
        &self,
        script: &'static Script,
        shard: &Shard,
        ids: &[&str],
        own_key: Option<&str>,
    ) -> redis::ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        for key in shard.script_keys() {
            invocation.key(key);
        }
        for id in ids {
            invocation.key(shard.job(id)).key(shard.events(id));
        }
        if let Some(key) = own_key {
            invocation.key(key);
        }
        invocation.arg(self.keys.prefix()).arg(ids.len());
        for id in ids {
            invocation.arg(*id);
        }
        invocation
    }

    /// `script` for job `id`, on the shard it lives on.
    pub(super) fn on_job(
        &self,
        script: &'static Script,
        id: &JobId,
    ) -> redis::ScriptInvocation<'static> {
        let id = id.as_str();
        self.on_shard(script, self.keys.shard_of(id), &[id], None)
    }

    /// Runs `script` on `claim` (its id and token, then `extra`); `true`
    /// when the script answers 1, i.e. the claim still held the job.
    async fn with_claim(&self, script: &'static Script, claim: &Claim) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .on_job(script, &claim.id)
            .arg(claim.token)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }

    /// Submits `job` and returns its id and whether it is new: with an
    /// idempotency key, a second submission within the key's lifetime returns
    /// the first one's id instead of making another job.
    pub async fn submit(&self, job: &NewJob) -> RedisResult<(JobId, bool)> {
        // A job with an idempotency key goes to the key's shard, so the key
        // and the job are in one slot: the id is drawn until it hashes there.
        let wanted = job
            .idempotency_key
            .as_deref()
            .map(|key| self.keys.index_of(key));
        let id = loop {
            let id = JobId::generate();
            if wanted.is_none_or(|shard| self.keys.index_of(id.as_str()) == shard) {
                break id;
            }
        };
        let shard = self.keys.shard_of(id.as_str());
        let own_key = job
            .idempotency_key
            .as_deref()
            .map(|key| shard.idempotency(key));
        let mut redis = self.redis.clone();
        let (id, created): (String, i64) = self
            .on_shard(&compiled::SUBMIT, shard, &[id.as_str()], own_key.as_deref())
            .arg(&job.kind)
            .arg(&job.params)
            .arg(job.max_attempts.max(1))
            .arg(job.idempotency_key.as_deref().unwrap_or(""))
            .arg(job.key_lifetime.as_secs().max(1))
            .arg(self.retention.as_millis().max(1) as u64)
            .arg(job.webhook.as_deref().unwrap_or(""))
            .invoke_async(&mut redis)
            .await?;
        // The id is the one drawn above, or the one an earlier submission
        // with the same idempotency key drew: submit wrote both.
        Ok((JobId::stored(id), created == 1))
    }

    /// Claims the job that has been ready longest (on the first shard that
    /// has one), with a lease of `lease`.
    pub async fn claim(&self, lease: Duration) -> RedisResult<Option<Claim>> {
        Ok(self.claim_many(lease, 1).await?.pop())
    }

    /// Claims up to `most` ready jobs in one go, each with its own token and
    /// a lease of `lease`: from one shard, the shards taken in turn so that
    /// every one is served. Empty when no job is ready.
    pub async fn claim_many(&self, lease: Duration, most: usize) -> RedisResult<Vec<Claim>> {
        let shards = self.keys.shards();
        let start = self.next_shard.fetch_add(1, Ordering::Relaxed);
        for turn in 0..shards.len() {
            let shard = &shards[(start + turn) % shards.len()];
            let claims = self.claim_on(shard, lease, most.max(1)).await?;
            if !claims.is_empty() {
                return Ok(claims);
            }
        }
        Ok(Vec::new())
    }

    /// Claims up to `most` jobs of `shard`: reads the head of its ready
    /// queue, then lets the script take those still ready and due. When
    /// other workers took them all first it reads again: each such round
    /// means another claim succeeded, so this ends once the due jobs are
    /// taken.
    async fn claim_on(
        &self,
        shard: &Shard,
        lease: Duration,
        most: usize,
    ) -> RedisResult<Vec<Claim>> {
        let mut redis = self.redis.clone();
        loop {
            let candidates: Vec<String> = redis
                .zrange(shard.ready(), 0, (most * CANDIDATES_PER_CLAIM) as isize - 1)
                .await?;
            if candidates.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let (claimed, contested): (Vec<ClaimRow>, i64) = self
                .on_shard(&compiled::CLAIM, shard, &ids, None)
                .arg(lease.as_millis().max(1) as u64)
                .arg(most)
                .invoke_async(&mut redis)
                .await?;
            if !claimed.is_empty() || contested == 0 {
                return Ok(claimed
                    .into_iter()
                    .map(|(id, token, attempt, kind, params)| Claim {
                        id: JobId::stored(id),
                        token,
                        attempt,
                        kind,
                        params,
                    })
                    .collect());
            }
        }
    }

    /// Extends `claim`'s lease by `lease`; `false` when the claim is no
    /// longer the job's, and the worker must stop.
    pub async fn heartbeat(&self, claim: &Claim, lease: Duration) -> RedisResult<bool> {
        Ok(self
            .heartbeat_many(std::slice::from_ref(claim), lease)
            .await?
            == [true])
    }

    /// Extends the leases of `claims` by `lease`, one script per shard: for
    /// each claim, in order, whether it still held its job (a run whose
    /// claim is lost must stop).
    pub async fn heartbeat_many(
        &self,
        claims: &[Claim],
        lease: Duration,
    ) -> RedisResult<Vec<bool>> {
        let lease = lease.as_millis().max(1) as u64;
        self.per_shard(&compiled::HEARTBEAT, claims, Some(lease))
            .await
    }

    /// Records how far `claim`'s run has got; `false` when the claim is no
    /// longer the job's.
    pub async fn progress(&self, claim: &Claim, progress: &Progress) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let kept: i64 = self
            .on_job(&compiled::PROGRESS, &claim.id)
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
        Ok(self.complete_many(std::slice::from_ref(claim)).await? == [true])
    }

    /// Marks the jobs of `claims` succeeded, one script per shard: for each
    /// claim, in order, whether it still held its job (a fenced one's
    /// result must not be shown).
    pub async fn complete_many(&self, claims: &[Claim]) -> RedisResult<Vec<bool>> {
        self.per_shard(&compiled::COMPLETE, claims, None).await
    }

    /// Runs `script` once per shard that holds jobs of `claims`, with
    /// `first` (if any) and then the tokens of that shard's claims as its
    /// arguments: for each claim, in order, whether the script answered 1
    /// for it (the claim still held its job).
    async fn per_shard(
        &self,
        script: &'static Script,
        claims: &[Claim],
        first: Option<u64>,
    ) -> RedisResult<Vec<bool>> {
        let mut outcomes = vec![false; claims.len()];
        let mut redis = self.redis.clone();
        for (index, shard) in self.keys.shards().iter().enumerate() {
            let mine: Vec<usize> = (0..claims.len())
                .filter(|&at| self.keys.index_of(claims[at].id.as_str()) == index)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let ids: Vec<&str> = mine.iter().map(|&at| claims[at].id.as_str()).collect();
            let mut invocation = self.on_shard(script, shard, &ids, None);
            if let Some(first) = first {
                invocation.arg(first);
            }
            for &at in &mine {
                invocation.arg(claims[at].token);
            }
            let answers: Vec<i64> = invocation.invoke_async(&mut redis).await?;
            for (&at, answer) in mine.iter().zip(answers) {
                outcomes[at] = answer == 1;
            }
        }
        Ok(outcomes)
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
            .on_job(&compiled::FAIL, &claim.id)
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
    pub async fn cancel(&self, id: &JobId) -> RedisResult<Option<JobState>> {
        let mut redis = self.redis.clone();
        let before: Option<String> = self
            .on_job(&compiled::CANCEL, id)
            .invoke_async(&mut redis)
            .await?;
        Ok(before.as_deref().and_then(JobState::parse))
    }

    /// Hands `claim`'s job back to the queue (a worker stopping); the attempt
    /// does not count. `false` when the claim no longer holds the job.
    pub async fn release(&self, claim: &Claim) -> RedisResult<bool> {
        self.with_claim(&compiled::RELEASE, claim).await
    }

    /// Takes back the leases that ran out, on every shard; returns how many.
    pub async fn reap(&self) -> RedisResult<u64> {
        let mut redis = self.redis.clone();
        let mut reaped = 0;
        for shard in self.keys.shards() {
            loop {
                let candidates: Vec<String> = redis
                    .zrange(shard.leases(), 0, REAP_BATCH as isize - 1)
                    .await?;
                if candidates.is_empty() {
                    break;
                }
                let ids: Vec<&str> = candidates.iter().map(String::as_str).collect();
                let taken: u64 = self
                    .on_shard(&compiled::REAP, shard, &ids, None)
                    .invoke_async(&mut redis)
                    .await?;
                reaped += taken;
                if taken < REAP_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(reaped)
    }

    /// Queues a dead-lettered job again with fresh attempts; `false` if it
    /// was not on the list.
    pub async fn requeue(&self, id: &JobId) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .on_job(&compiled::REQUEUE, id)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }
}
