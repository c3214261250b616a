//! What a worker that holds a job does with it (heartbeats, progress,
//! completing, failing, handing it back), and a cancel from anyone.

use std::time::Duration;

use redis::{RedisResult, Script};

use super::{Claim, FailOutcome, JobId, JobQueue, JobState, Progress, compiled};

impl JobQueue {
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

    /// Hands `claim`'s job back to run again after `delay`, the attempt not
    /// counted, with `note` (why) as its error until then: for a run that
    /// could not reach MongoDB. `false` when the claim no longer holds the
    /// job.
    pub async fn postpone(&self, claim: &Claim, note: &str, delay: Duration) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .on_job(&compiled::POSTPONE, &claim.id)
            .arg(claim.token)
            .arg(note)
            .arg(delay.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }
}
