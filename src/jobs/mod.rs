//! Background jobs on Redis: the queue and its state machine.
//!
//! A job is submitted (`queued`), claimed by a worker (`running`, with a
//! lease and a fencing token), and ends `succeeded`, `failed` or
//! `cancelled`; a retryable failure waits (`waiting_retry`) and is queued
//! again after an exponential backoff with jitter. Delivery is at least
//! once: a worker that dies loses its lease and the job runs again
//! ([`JobQueue::reap`]); after its last attempt it fails and goes to the
//! dead-letter list, from which it can be re-queued. A worker that lost its
//! lease still holds an old token, so its completion is refused: only the
//! run holding the current token can finish the job.
//!
//! Every state change is one Lua script ([`scripts`]), which also appends
//! it to the job's event stream ([`events`]).

mod claim;
pub mod events;
mod id;
pub mod keys;
pub mod kinds;
mod listing;
pub mod queue;
mod record;
pub mod results;
pub mod scripts;
mod submission;
pub mod watch;
pub mod webhooks;
pub mod worker;

use std::time::Duration;

/// The prefix of every key the lab's job queue uses.
pub const PREFIX: &str = "jobs:";

pub use events::{Changes, EventData, JobEvent};
pub use id::{JOB_ID_LEN, JobId, JobIdError};
pub use keys::{Keyspace, ShardCount};
pub use queue::{Claim, FailOutcome, JobQueue, JobRecord, JobState, NewJob, Progress, QueueStats};
pub use watch::EventFeed;

/// The delay before retry number `attempt` (1 for the first retry): the
/// base doubled each time and capped, of which half is waited for sure and
/// the other half at random ("equal jitter"), so jobs that failed together
/// do not retry together, yet none retries at once.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exponential = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exponential.min(cap).as_millis().max(1) as u64;
    let random = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    Duration::from_millis(ceiling / 2 + random % (ceiling / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 1..=10 {
            let ceiling = (base * (1 << (attempt - 1))).min(cap);
            for _ in 0..50 {
                let delay = backoff(attempt, base, cap);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{attempt}: {delay:?}"
                );
            }
        }
        let spread: std::collections::HashSet<Duration> =
            (0..100).map(|_| backoff(5, base, cap)).collect();
        assert!(spread.len() > 20, "retries are spread out");
    }
}
