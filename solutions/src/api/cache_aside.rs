//! Cache-aside in front of a customer store, with negative entries and
//! invalidation after writes.
//!
//! Scenario: `GET /customers/{id}` is slow because every request reads
//! MongoDB. Put Redis in front the way the course notes do, and fix two of
//! their version's faults on the way: a customer that does not exist is
//! looked up in MongoDB on every request, and a changed email stays wrong in
//! the cache for an hour.
//!
//! Keys: `customer:{id}` holds the customer's JSON for [`TTL_SECONDS`], or
//! the text `null` for [`MISSING_TTL_SECONDS`] when there is no such
//! customer. `{id}` stands for the id's 24 hex digits, with no braces in the
//! key (`format!("customer:{id}")`): the braces in the API's own keys, seen
//! in notebook 07, are a Redis Cluster hash tag this exercise does not use.

use lab::redis::AsyncCommands;
use lab::redis::RedisResult;
use lab::redis::aio::ConnectionManager;

/// How long a customer stays cached.
pub const TTL_SECONDS: u64 = 3600;
/// How long "no such customer" stays cached.
pub const MISSING_TTL_SECONDS: u64 = 30;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Redis had it.
    Cache,
    /// The store was read.
    Database,
}

/// Where customers really live (MongoDB in the lab; the tests count how
/// often it is read).
pub trait CustomerStore {
    /// Customer `id` as JSON, or `None` if there is no such customer.
    fn load(&self, id: &str) -> impl Future<Output = Option<String>> + Send;
    /// Changes the email of customer `id`; `true` if the customer exists.
    fn save_email(&self, id: &str, email: &str) -> impl Future<Output = bool> + Send;
}

/// Customer `id` as JSON (or `None`), and where the answer came from:
/// the cache if it has the key, else the store, whose answer is then cached.
/// A GET or a SET that Redis refuses is an error: a refused GET is not a
/// miss, and a refused SET is not skipped in silence. This function reports
/// it; its caller decides whether to fall back to the store (the lab's API
/// does, notebook 08).
pub async fn get_customer(
    redis: &mut ConnectionManager,
    store: &impl CustomerStore,
    id: &str,
) -> RedisResult<(Option<String>, Origin)> {
    let key = format!("customer:{id}");
    let cached: Option<String> = redis.get(&key).await?;
    if let Some(text) = cached {
        let customer = (text != "null").then_some(text);
        return Ok((customer, Origin::Cache));
    }
    let loaded = store.load(id).await;
    match &loaded {
        Some(json) => redis.set_ex::<_, _, ()>(&key, json, TTL_SECONDS).await?,
        None => {
            redis
                .set_ex::<_, _, ()>(&key, "null", MISSING_TTL_SECONDS)
                .await?
        }
    }
    Ok((loaded, Origin::Database))
}

/// Changes the email in the store, then removes the cached copy so the next
/// read loads the new one (whatever the store answered: a customer it no
/// longer finds must not stay cached either). Returns whether the customer
/// exists.
pub async fn change_email(
    redis: &mut ConnectionManager,
    store: &impl CustomerStore,
    id: &str,
    email: &str,
) -> RedisResult<bool> {
    // The store first: deleting first would let a read in between cache the
    // old email again.
    let existed = store.save_email(id, email).await;
    redis.del::<_, ()>(format!("customer:{id}")).await?;
    Ok(existed)
}
