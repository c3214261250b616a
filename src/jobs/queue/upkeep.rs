//! Keeping the queue healthy: leases that ran out are taken back, and
//! dead letters are queued again on request.

use redis::{AsyncCommands, RedisResult};

use super::{JobId, JobQueue, REAP_BATCH, compiled};

impl JobQueue {
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
