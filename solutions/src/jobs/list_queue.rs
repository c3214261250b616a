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
    let json = serde_json::to_string(ticket).expect("a ticket is plain data");
    set_status(redis, &ticket.id, "queued").await?;
    // LPUSH adds on the left; RPOP below takes from the right: first in,
    // first out.
    redis.lpush(queue_key(name), json).await
}

/// Takes the ticket that has waited longest and marks its job `running`;
/// `None` when the queue is empty.
pub async fn claim(redis: &mut ConnectionManager, name: &str) -> RedisResult<Option<Ticket>> {
    let json: Option<String> = redis.rpop(queue_key(name), None).await?;
    let Some(ticket) = json.and_then(|json| serde_json::from_str::<Ticket>(&json).ok()) else {
        return Ok(None);
    };
    set_status(redis, &ticket.id, "running").await?;
    Ok(Some(ticket))
}

/// Sets the `status` field of `job:{id}`.
pub async fn set_status(redis: &mut ConnectionManager, id: &str, status: &str) -> RedisResult<()> {
    redis.hset(format!("job:{id}"), "status", status).await
}

/// The `status` field of `job:{id}`, or `None` for an unknown job.
pub async fn status(redis: &mut ConnectionManager, id: &str) -> RedisResult<Option<String>> {
    redis.hget(format!("job:{id}"), "status").await
}
