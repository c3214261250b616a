//! Strings: SET, GET, INCR, and bytes versus text.
//!
//! Scenario: the billing team keeps a few small facts about customers in
//! Redis, next to MongoDB, because Redis answers in microseconds. Write the
//! four helpers they need. Run `cargo lab grade redis-strings` to check your
//! work, and `cargo lab hint redis-strings` if you are stuck.

use redis::AsyncCommands;
use redis::RedisResult;
use redis::aio::ConnectionManager;

/// A value that is not UTF-8 text.
#[derive(Debug, PartialEq, Eq)]
pub struct NotText {
    /// The key that holds it.
    pub key: String,
}

/// Stores `name` under `customer:{id}:name`.
pub async fn store_customer_name(
    redis: &mut ConnectionManager,
    id: u32,
    name: &str,
) -> RedisResult<()> {
    // TODO: SET the name under the key `customer:{id}:name`.
    todo!()
}

/// The name stored for customer `id`, or `None` only when the key does not
/// exist (an empty name is still a name). A GET
/// that Redis refuses is an error, not `None`.
pub async fn customer_name(redis: &mut ConnectionManager, id: u32) -> RedisResult<Option<String>> {
    // TODO: GET the key; a missing key must give `Ok(None)`, not an error.
    todo!()
}

/// Counts one more visit to `page` under `visits:{page}` and returns the new count.
pub async fn record_visit(redis: &mut ConnectionManager, page: &str) -> RedisResult<i64> {
    // TODO: count on the server, so two clients at once never lose a visit.
    todo!()
}

/// The value at `key` as text, or `None` when the key does not exist, or
/// `Err(NotText)` when its bytes are not UTF-8. A GET that Redis refuses
/// (the key holds a hash, say) is Redis's error, the outer `Err`.
pub async fn read_text(
    redis: &mut ConnectionManager,
    key: &str,
) -> RedisResult<Result<Option<String>, NotText>> {
    // TODO: read the raw bytes, then decode them yourself.
    todo!()
}
