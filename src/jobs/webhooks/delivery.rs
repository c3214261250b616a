//! Delivering webhooks: claiming a due delivery, posting, recording the
//! answer with a retry or not.

use std::time::Duration;

use redis::{AsyncCommands, RedisResult};

use super::{WebhookError, WebhookUrl};
use crate::jobs::JobId;
use crate::jobs::queue::JobQueue;

/// Attempts before a delivery is abandoned.
pub const MAX_DELIVERIES: u32 = 8;
/// How long one delivery attempt may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The first retry's delay; each one doubles, up to [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// See [`RETRY_BASE`].
pub const RETRY_CAP: Duration = Duration::from_secs(300);
/// The longest URL accepted.
pub const MAX_URL: usize = 2048;

/// One webhook call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job.
    pub id: JobId,
    /// Where to.
    pub url: String,
    /// Which attempt, from 1.
    pub attempt: u32,
}

impl JobQueue {
    /// Claims the webhook delivery due longest on the first shard that has
    /// one, held for `lease`.
    pub async fn claim_delivery(&self, lease: Duration) -> RedisResult<Option<Delivery>> {
        let mut redis = self.connection();
        for shard in self.keys().shards() {
            let candidates: Vec<String> = redis.zrange(shard.webhooks(), 0, 7).await?;
            if candidates.is_empty() {
                continue;
            }
            let ids: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let claimed: Option<(String, String, u32)> = self
                .on_shard(
                    &crate::jobs::queue::compiled::WEBHOOK_CLAIM,
                    shard,
                    &ids,
                    None,
                )
                .arg(lease.as_millis().max(1) as u64)
                .invoke_async(&mut redis)
                .await?;
            if let Some((id, url, attempt)) = claimed {
                return Ok(Some(Delivery {
                    id: JobId::stored(id),
                    url,
                    attempt,
                }));
            }
        }
        Ok(None)
    }

    /// Records how `delivery` went: delivered, or due again after `retry`
    /// (`None`: abandoned); `note` says what the receiver answered. Not
    /// recorded when a later attempt of the same delivery was claimed
    /// meanwhile (this one took longer than its hold).
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        delivered: bool,
        retry: Option<Duration>,
        note: &str,
    ) -> RedisResult<()> {
        let mut redis = self.connection();
        let _: i64 = self
            .on_job(&crate::jobs::queue::compiled::WEBHOOK_RESULT, &delivery.id)
            .arg(if delivered { "1" } else { "0" })
            .arg(retry.map_or(0, |retry| retry.as_millis().max(1) as u64))
            .arg(note)
            .arg(delivery.attempt)
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }
}

/// Makes one due delivery, if there is one; `false` when none was due.
pub async fn deliver_one(queue: &JobQueue) -> RedisResult<bool> {
    let Some(delivery) = queue.claim_delivery(DELIVERY_TIMEOUT * 2).await? else {
        return Ok(false);
    };
    let Some(job) = queue.get(&delivery.id).await? else {
        queue
            .record_delivery(&delivery, false, None, "the job has expired")
            .await?;
        return Ok(true);
    };
    let body = serde_json::json!({
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "error": job.error,
        "attempts": job.attempts,
        "job": format!("/jobs/{}", job.id),
        "result": format!("/jobs/{}/result", job.id),
    })
    .to_string();
    let mut refused = false;
    let answer = match WebhookUrl::parse(&delivery.url) {
        Ok(url) => {
            let policy = queue.webhook_policy();
            match policy.resolve(&url).await {
                Ok(address) => url.post(address, &body).await.map_err(|e| e.to_string()),
                Err(error) => {
                    // A refused address stays refused: no retry.
                    refused = matches!(error, WebhookError::Refused { .. });
                    Err(error.to_string())
                }
            }
        }
        Err(error) => {
            refused = true;
            Err(error.to_string())
        }
    };
    let retry = (delivery.attempt < MAX_DELIVERIES && !refused)
        .then(|| crate::jobs::backoff(delivery.attempt, RETRY_BASE, RETRY_CAP));
    match answer {
        Ok(status) if (200..300).contains(&status) => {
            queue
                .record_delivery(&delivery, true, None, &format!("HTTP {status}"))
                .await?
        }
        Ok(status) => {
            queue
                .record_delivery(&delivery, false, retry, &format!("HTTP {status}"))
                .await?
        }
        Err(message) => {
            queue
                .record_delivery(&delivery, false, retry, &message)
                .await?
        }
    }
    Ok(true)
}
