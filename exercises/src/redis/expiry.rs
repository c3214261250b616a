//! Expiry: SETEX, EXPIRE and TTL.
//!
//! Scenario: customers who sign in to the billing portal get a session that
//! must disappear by itself after half an hour of inactivity. Redis can
//! expire keys for you; write the three helpers that use it.

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
pub async fn start_session(
    redis: &mut ConnectionManager,
    token: &str,
    user: &str,
) -> RedisResult<()> {
    // TODO: set the value and its expiry in ONE command.
    todo!()
}

/// Gives the session another full [`SESSION_SECONDS`]; `false` when it has
/// already expired.
/// An error from Redis is returned as it is, never read as `false`.
pub async fn touch_session(redis: &mut ConnectionManager, token: &str) -> RedisResult<bool> {
    // TODO: reset the expiry of `session:{token}`.
    todo!()
}

/// What TTL says about `key`, as an [`Expiry`] instead of magic numbers.
/// A key about to expire still exists: TTL answers 0 for it.
pub async fn expiry_of(redis: &mut ConnectionManager, key: &str) -> RedisResult<Expiry> {
    // TODO: ask TTL and translate -2, -1 and the rest.
    todo!()
}
