//! Work coming in and going out: a client submits a job, a worker claims
//! the next ones.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::{AsyncCommands, RedisResult};

use super::{CANDIDATES_PER_CLAIM, Claim, ClaimRow, JobId, JobQueue, NewJob, Shard, compiled};

impl JobQueue {
    /// Submits `job` and returns its id and whether it is new: with an
    /// idempotency key, a second submission within the key's lifetime returns
    /// the first one's id instead of making another job.
    pub async fn submit(&self, job: &NewJob) -> RedisResult<(JobId, bool)> {
        self.submit_as(self.new_id(job), job).await
    }

    /// A fresh id for `job`, to give [`JobQueue::submit_as`]: a caller that
    /// holds the id before submitting can name the job even when it never
    /// hears whether the submission arrived.
    pub(crate) fn new_id(&self, job: &NewJob) -> JobId {
        // A job with an idempotency key goes to the key's shard, so the key
        // and the job are in one slot: the id is drawn until it hashes there.
        let wanted = job
            .idempotency_key
            .as_deref()
            .map(|key| self.keys.index_of(key));
        loop {
            let id = JobId::generate();
            if wanted.is_none_or(|shard| self.keys.index_of(id.as_str()) == shard) {
                return id;
            }
        }
    }

    /// [`JobQueue::submit`] under `id`, drawn by [`JobQueue::new_id`] for
    /// the same job.
    pub(crate) async fn submit_as(&self, id: JobId, job: &NewJob) -> RedisResult<(JobId, bool)> {
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
}
