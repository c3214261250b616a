//! Expiry: SETEX, EXPIRE and TTL. (Answer key.)
//!
//! Scenario: customers who sign in to the billing portal get a session that
//! must disappear by itself after half an hour of inactivity.

use redis::AsyncCommands;
use redis::RedisResult;
use redis::aio::ConnectionManager;

/// How long a session lives without activity.
pub const SESSION_SECONDS: u64 = 1800;

/// What TTL says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The key does not exist (TTL answers -2).
    Missing,
    /// The key never expires (TTL answers -1).
    Never,
    /// The key expires in this many seconds.
    In(u64),
}

/// Stores `user` under `session:{token}`, expiring after [`SESSION_SECONDS`].
///
/// SETEX sets the value and its expiry in one command. A SET followed by an
/// EXPIRE would leave a moment (or, if the client dies in between, forever)
/// where the session has no expiry.
pub async fn start_session(
    redis: &mut ConnectionManager,
    token: &str,
    user: &str,
) -> RedisResult<()> {
    redis
        .set_ex(format!("session:{token}"), user, SESSION_SECONDS)
        .await
}

/// Gives the session another full [`SESSION_SECONDS`]; `false` when it has
/// already expired (EXPIRE on a missing key does nothing and answers 0).
/// An error from Redis is returned as it is, never read as `false`.
pub async fn touch_session(redis: &mut ConnectionManager, token: &str) -> RedisResult<bool> {
    redis
        .expire(format!("session:{token}"), SESSION_SECONDS as i64)
        .await
}

/// What TTL says about `key`, as an [`Expiry`] instead of magic numbers.
/// A key about to expire still exists: TTL answers 0 for it.
pub async fn expiry_of(redis: &mut ConnectionManager, key: &str) -> RedisResult<Expiry> {
    let seconds: i64 = redis.ttl(key).await?;
    Ok(match seconds {
        -2 => Expiry::Missing,
        -1 => Expiry::Never,
        seconds => Expiry::In(seconds.max(0) as u64),
    })
}
