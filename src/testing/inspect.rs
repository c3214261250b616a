//! Looking at what a Redis server holds, for tests that grade server state
//! as well as return values.

use redis::aio::ConnectionManager;

/// The type Redis reports for `key`: "string", "hash", "list", "set",
/// "zset", or "none" when it does not exist.
pub async fn key_type(redis: &mut ConnectionManager, key: &str) -> String {
    redis::cmd("TYPE")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("TYPE {key} failed: {error}"))
}

/// Seconds `key` has left: `None` when it has no expiry or does not exist.
pub async fn ttl(redis: &mut ConnectionManager, key: &str) -> Option<i64> {
    let seconds: i64 = redis::cmd("TTL")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("TTL {key} failed: {error}"));
    (seconds >= 0).then_some(seconds)
}

/// Every key in the database, sorted.
pub async fn keys(redis: &mut ConnectionManager) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("KEYS failed: {error}"));
    keys.sort();
    keys
}

/// The raw bytes stored at a string `key`.
pub async fn bytes(redis: &mut ConnectionManager, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("GET {key} failed: {error}"))
}
