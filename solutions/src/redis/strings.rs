//! Strings: SET, GET, INCR, and bytes versus text. (Answer key.)
//!
//! Scenario: the billing team keeps a few small facts about customers in
//! Redis, next to MongoDB, because Redis answers in microseconds.

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
///
/// Keys follow `<type>:<id>` (here with a field after it): readable in
/// `redis-cli`, easy to scan with a pattern, and short.
pub async fn store_customer_name(
    redis: &mut ConnectionManager,
    id: u32,
    name: &str,
) -> RedisResult<()> {
    redis.set(format!("customer:{id}:name"), name).await
}

/// The name stored for customer `id`, or `None` only when the key does not
/// exist (an empty name is still a name). A GET
/// that Redis refuses is an error, not `None`.
///
/// GET of a missing key is not an error in Redis: it returns nil, which the
/// driver turns into `None` when we ask for an `Option`.
pub async fn customer_name(redis: &mut ConnectionManager, id: u32) -> RedisResult<Option<String>> {
    redis.get(format!("customer:{id}:name")).await
}

/// Counts one more visit to `page` under `visits:{page}` and returns the new count.
///
/// INCR is atomic on the server: two clients counting at once never lose a
/// visit, which a GET-then-SET from the client would.
pub async fn record_visit(redis: &mut ConnectionManager, page: &str) -> RedisResult<i64> {
    redis.incr(format!("visits:{page}"), 1).await
}

/// The value at `key` as text, or `None` when the key does not exist, or
/// `Err(NotText)` when its bytes are not UTF-8. A GET that Redis refuses
/// (the key holds a hash, say) is Redis's error, the outer `Err`.
///
/// Redis stores bytes and knows nothing of encodings. Reading them as
/// `Vec<u8>` and decoding ourselves is what makes the failure visible
/// instead of a garbled string.
pub async fn read_text(
    redis: &mut ConnectionManager,
    key: &str,
) -> RedisResult<Result<Option<String>, NotText>> {
    let bytes: Option<Vec<u8>> = redis.get(key).await?;
    Ok(match bytes {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| NotText {
            key: key.to_owned(),
        }),
    })
}
