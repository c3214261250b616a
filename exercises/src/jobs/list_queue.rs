//! A job queue on a Redis list, the simplest design: producers push,
//! workers pop, and each job's status lives in a hash.
//!
//! Scenario: the billing team wants reports computed in the background.
//! Tickets go on the list `queue:{name}` as JSON; a worker takes the oldest
//! one; `job:{id}` is a hash whose `status` field says where the job is.
//! (Lesson 09 shows what this version loses when a worker dies; the next
//! exercise fixes it.)

use lab::redis::AsyncCommands;
use lab::redis::RedisResult;
use lab::redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// One request for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The job's id.
    pub id: String,
    /// Which report.
    pub report: String,
}

/// The key of queue `name`'s list.
pub fn queue_key(name: &str) -> String {
    format!("queue:{name}")
}

/// Puts `ticket` at the back of queue `name`, marks the job `queued`, and
/// returns how many tickets now wait. The back is the left end (LPUSH), as
/// [`claim`] takes the oldest from the right (RPOP); RPUSH with LPOP is as
/// good, as long as the two agree.
/// If Redis refuses the status, that error is returned.
pub async fn enqueue(
    redis: &mut ConnectionManager,
    name: &str,
    ticket: &Ticket,
) -> RedisResult<u64> {
    // TODO: mark the job queued (set_status), then LPUSH the ticket as JSON onto queue_key(name); LPUSH answers the new length.
    todo!()
}

/// Takes the ticket that has waited longest and marks its job `running`;
/// `None` when the queue is empty.
pub async fn claim(redis: &mut ConnectionManager, name: &str) -> RedisResult<Option<Ticket>> {
    // TODO: RPOP the oldest ticket, parse its JSON, mark its job running; None when the list is empty.
    todo!()
}

/// Sets the `status` field of `job:{id}`.
pub async fn set_status(redis: &mut ConnectionManager, id: &str, status: &str) -> RedisResult<()> {
    // TODO: HSET job:{id} status <status>.
    todo!()
}

/// The `status` field of `job:{id}`, or `None` for an unknown job.
pub async fn status(redis: &mut ConnectionManager, id: &str) -> RedisResult<Option<String>> {
    // TODO: HGET job:{id} status.
    todo!()
}
