//! A claim that survives the worker: the ticket moves from the queue to a
//! processing list in one atomic step, and leaves it only when the worker
//! says it is done.
//!
//! Scenario: with `RPOP`, a worker that dies after popping takes the ticket
//! with it. Here `LMOVE queue:{name} processing:{name} RIGHT LEFT` hands the
//! worker the oldest ticket and keeps a copy in `processing:{name}` in the
//! same step; `ack` removes that copy once the job is done, and `recover`
//! (run when a worker is known to have died) puts every unacknowledged
//! ticket back at the front of the queue.
//!
//! Tickets are the JSON text exactly as queued: `ack` removes by value.

use lab::redis::AsyncCommands;
use lab::redis::Direction;
use lab::redis::RedisResult;
use lab::redis::aio::ConnectionManager;

/// The key of queue `name`'s waiting tickets.
pub fn queue_key(name: &str) -> String {
    format!("queue:{name}")
}

/// The key of queue `name`'s tickets being worked on.
pub fn processing_key(name: &str) -> String {
    format!("processing:{name}")
}

/// Puts `ticket` at the back of the queue: its left end (LPUSH), as the
/// oldest ticket waits at the right (RPUSH, with claim and recover taking
/// from the left, is as good, as long as they agree).
/// An error from Redis is returned.
pub async fn enqueue(redis: &mut ConnectionManager, name: &str, ticket: &str) -> RedisResult<()> {
    redis.lpush(queue_key(name), ticket).await
}

/// Moves the oldest ticket to the processing list and returns it, in one
/// step; `None` when the queue is empty.
/// An error from Redis is returned, never read as an empty queue.
pub async fn claim(redis: &mut ConnectionManager, name: &str) -> RedisResult<Option<String>> {
    redis
        .lmove(
            queue_key(name),
            processing_key(name),
            Direction::Right,
            Direction::Left,
        )
        .await
}

/// The job of `ticket` is done: removes it from the processing list.
/// Returns whether it was there.
pub async fn ack(redis: &mut ConnectionManager, name: &str, ticket: &str) -> RedisResult<bool> {
    let removed: i64 = redis.lrem(processing_key(name), 1, ticket).await?;
    Ok(removed > 0)
}

/// Puts every ticket of the processing list back at the front of the
/// queue, its right end, where claims take from (they have waited
/// longest), so that the oldest claim is claimed again first; returns how
/// many.
pub async fn recover(redis: &mut ConnectionManager, name: &str) -> RedisResult<u64> {
    let mut moved = 0;
    // One LMOVE per ticket: each is atomic, so a ticket is always in one
    // of the two lists, never in neither. The newest claim goes to the
    // front first, so the oldest ends up in front of it.
    loop {
        let ticket: Option<String> = redis
            .lmove(
                processing_key(name),
                queue_key(name),
                Direction::Left,
                Direction::Right,
            )
            .await?;
        if ticket.is_none() {
            return Ok(moved);
        }
        moved += 1;
    }
}
