//! Following one job: its events one at a time, as they happen, until the
//! final one. `lab jobs watch` prints them; the feed only reads the
//! stream ([`JobQueue::events`]) and waits for wake-ups between reads
//! ([`events::changed`]), so a missed wake-up costs at most a [`RECHECK`].
//!
//! [`RECHECK`]: events::RECHECK

use std::collections::VecDeque;
use std::time::Duration;

use redis::RedisResult;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::events::{self, JobEvent};
use super::queue::JobQueue;

/// How long one wait for a wake-up may last; [`events::changed`] looks at
/// the stream every [`events::RECHECK`] anyway.
const FAR: Duration = Duration::from_secs(3600);

/// Job `id`'s events after a given one, oldest first, waiting for each.
#[derive(Debug)]
pub struct EventFeed {
    queue: JobQueue,
    id: String,
    last: Option<String>,
    changes: broadcast::Receiver<String>,
    pending: VecDeque<JobEvent>,
    over: bool,
}

impl EventFeed {
    /// Starts following job `id` after event `after` (from its first event
    /// without), woken by `changes`: take it with
    /// [`Changes::subscribe`](super::Changes::subscribe) before calling, so
    /// no change falls in between, and keep the [`super::Changes`] alive.
    /// `None` when there is no job `id` (or it has expired).
    pub async fn start(
        queue: &JobQueue,
        id: &str,
        after: Option<String>,
        changes: broadcast::Receiver<String>,
    ) -> RedisResult<Option<EventFeed>> {
        if queue.get(id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(EventFeed {
            queue: queue.clone(),
            id: id.to_owned(),
            last: after,
            changes,
            pending: VecDeque::new(),
            over: false,
        }))
    }

    /// The next event, waiting for it; `None` once the final event has been
    /// given, or when the job is over with no event after `after`, or has
    /// expired.
    pub async fn next(&mut self) -> RedisResult<Option<JobEvent>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = Some(event.id.clone());
                self.over |= event.data.is_final();
                return Ok(Some(event));
            }
            if self.over {
                return Ok(None);
            }
            let found = self.queue.events(&self.id, self.last.as_deref()).await?;
            if !found.is_empty() {
                self.pending.extend(found);
                continue;
            }
            match self.queue.get(&self.id).await? {
                Some(job) if !job.state.is_final() => {
                    events::changed(&mut self.changes, &self.id, Instant::now() + FAR).await;
                }
                // Started after the final event, or the job expired.
                _ => return Ok(None),
            }
        }
    }
}
