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
use super::id::JobId;
use super::queue::JobQueue;

/// How long one wait for a wake-up may last; [`events::changed`] looks at
/// the stream every [`events::RECHECK`] anyway.
const FAR: Duration = Duration::from_secs(3600);

/// Job `id`'s events after a given one, oldest first, waiting for each.
#[derive(Debug)]
pub struct EventFeed {
    queue: JobQueue,
    id: JobId,
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
        id: &JobId,
        after: Option<String>,
        changes: broadcast::Receiver<String>,
    ) -> RedisResult<Option<EventFeed>> {
        if queue.get(id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(EventFeed {
            queue: queue.clone(),
            id: id.clone(),
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
        // Whether the job was seen over after a read that found nothing.
        let mut seen_over = false;
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
                // It ended between the read and now: the script that ended
                // it wrote the final event too, so one more read finds it.
                Some(_) if !seen_over => seen_over = true,
                // Started after the final event, or the job expired.
                _ => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Changes, EventData, JobState, NewJob};
    use crate::testing::TestEnv;

    fn state_of(event: &JobEvent) -> Option<JobState> {
        match &event.data {
            EventData::State { state, .. } => Some(*state),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_feed_gives_each_event_waits_for_the_next_and_ends_after_the_final_one() {
        let env = TestEnv::start().await;
        let queue = JobQueue::new(env.redis_connection().await, "jobs:");
        let changes = Changes::listen(env.redis_url(), "jobs:").unwrap();
        let unknown = JobId::generate();
        let missing = EventFeed::start(&queue, &unknown, None, changes.subscribe());
        assert!(missing.await.unwrap().is_none(), "no job, no feed");

        let (id, _) = queue
            .submit(&NewJob::new("revenue_by_customer", "{}"))
            .await
            .unwrap();
        let mut feed = EventFeed::start(&queue, &id, None, changes.subscribe())
            .await
            .unwrap()
            .expect("the job exists");
        let first = feed.next().await.unwrap().expect("the submission");
        assert_eq!(state_of(&first), Some(JobState::Queued));

        // The feed waits for what happens next.
        let worker = queue.clone();
        let finishing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let claim = worker.claim(Duration::from_secs(30)).await.unwrap();
            assert!(
                worker
                    .complete(&claim.expect("a job is ready"))
                    .await
                    .unwrap()
            );
        });
        let mut states = Vec::new();
        let mut final_id = first.id.clone();
        while let Some(event) = feed.next().await.unwrap() {
            states.extend(state_of(&event));
            final_id = event.id.clone();
        }
        finishing.await.unwrap();
        assert_eq!(states, [JobState::Running, JobState::Succeeded]);

        // Started after the first event of a job that has ended, a feed
        // gives the rest and ends.
        let last = Some(first.id.clone());
        let mut late = EventFeed::start(&queue, &id, last, changes.subscribe())
            .await
            .unwrap()
            .expect("the job exists");
        let mut rest = Vec::new();
        while let Some(event) = late.next().await.unwrap() {
            rest.extend(state_of(&event));
        }
        assert_eq!(rest, [JobState::Running, JobState::Succeeded]);
        assert!(late.next().await.unwrap().is_none());

        // Started after the final event, a feed ends at once.
        let mut done = EventFeed::start(&queue, &id, Some(final_id), changes.subscribe())
            .await
            .unwrap()
            .expect("the job exists");
        assert!(done.next().await.unwrap().is_none());
    }
}
