//! Reading the queue: one job, a page of jobs, the counts and the dead
//! letters, gathered over every shard.

use std::collections::HashMap;

use redis::{AsyncCommands, RedisResult};

use super::id::JobId;
use super::queue::{JobQueue, JobRecord, JobState, Progress, QueueStats};

impl JobQueue {
    /// The ids on the dead-letter lists, oldest first (ids grow with
    /// submission time).
    pub async fn dead_letters(&self) -> RedisResult<Vec<JobId>> {
        let mut redis = self.connection();
        let mut ids = Vec::new();
        for shard in self.keys().shards() {
            let dead: Vec<String> = redis.lrange(shard.dead(), 0, -1).await?;
            ids.extend(dead.into_iter().map(JobId::stored));
        }
        ids.sort();
        Ok(ids)
    }

    /// How many jobs wait, run, or wait to retry, and how many dead
    /// letters there are, over every shard.
    pub async fn stats(&self) -> RedisResult<QueueStats> {
        let mut redis = self.connection();
        let mut total = QueueStats::default();
        for shard in self.keys().shards() {
            let (queued, running, waiting_retry, dead): (u64, u64, u64, u64) = redis::pipe()
                .zcard(shard.index(Some(JobState::Queued)))
                .zcard(shard.index(Some(JobState::Running)))
                .zcard(shard.index(Some(JobState::WaitingRetry)))
                .llen(shard.dead())
                .query_async(&mut redis)
                .await?;
            total.queued += queued;
            total.running += running;
            total.waiting_retry += waiting_retry;
            total.dead += dead;
        }
        Ok(total)
    }

    /// Job `id` as stored, or `None` (unknown, or expired).
    pub async fn get(&self, id: &JobId) -> RedisResult<Option<JobRecord>> {
        let mut redis = self.connection();
        let text = id.as_str();
        let fields: HashMap<String, String> =
            redis.hgetall(self.keys().shard_of(text).job(text)).await?;
        Ok(record(id, &fields))
    }

    /// Up to `limit` jobs, newest first, in `state` or in any, starting
    /// after job id `after` (keyset paging: ids grow with submission time).
    /// Each shard gives its newest `limit`; the page is the newest of those.
    pub async fn list(
        &self,
        state: Option<JobState>,
        after: Option<&JobId>,
        limit: usize,
    ) -> RedisResult<Vec<JobRecord>> {
        let mut jobs = Vec::new();
        for shard in self.keys().shards() {
            let index = shard.index(state);
            let mut redis = self.connection();
            let mut start = after.map_or_else(|| "+".to_owned(), |id| format!("({id}"));
            let mut found = 0;
            while found < limit {
                let ids: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                    .arg(&index)
                    .arg(&start)
                    .arg("-")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit - found)
                    .query_async(&mut redis)
                    .await?;
                let Some(last) = ids.last() else { break };
                start = format!("({last}");
                for id in ids.into_iter().map(JobId::stored) {
                    match self.get(&id).await? {
                        Some(job) if state.is_none_or(|wanted| job.state == wanted) => {
                            jobs.push(job);
                            found += 1;
                        }
                        Some(_) => {}
                        None => {
                            // Expired after its retention: drop it from the index.
                            let _: () = redis.zrem(&index, id.as_str()).await?;
                        }
                    }
                }
            }
        }
        jobs.sort_by(|a, b| b.id.cmp(&a.id));
        jobs.truncate(limit);
        Ok(jobs)
    }
}

/// The job stored as `fields`, or `None` when there is none.
fn record(id: &JobId, fields: &HashMap<String, String>) -> Option<JobRecord> {
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
        id: id.clone(),
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
