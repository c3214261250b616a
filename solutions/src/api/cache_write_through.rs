//! Write-through and read-through for the billing customers.
//!
//! Scenario: in the cache-aside exercise every caller was in charge of the
//! cache: it looked in Redis, read MongoDB itself on a miss, and had to
//! remember to delete the entry after each change. Here the cache takes that
//! job over. A [`CustomerCache`] stands between the application and the
//! customer store, and the application only talks to the cache:
//!
//! - **read-through**: [`CustomerCache::get`] answers from Redis when it
//!   can; on a miss the cache itself loads the customer from the store and
//!   keeps a copy for the next reader.
//! - **write-through**: [`CustomerCache::save`] sends a change to the store
//!   first, and once the store has it, writes the new value into Redis, so
//!   the next read finds it there, already fresh.
//!
//! Keys and values agree with the cache-aside exercise: `customer:{id}`
//! ([`customer_key`]) holds the customer's JSON ([`customer_json`]) for
//! [`TTL_SECONDS`]. To keep this exercise small, a customer that does not
//! exist is not remembered here (cache-aside practised that).

use lab::billing::Customer;
use lab::billing::json::CustomerJson;
use lab::bson::oid::ObjectId;
use lab::redis::aio::ConnectionManager;
use lab::redis::{AsyncCommands, ExistenceCheck, RedisError, SetExpiry, SetOptions};
use thiserror::Error;

/// How long a customer stays cached: an hour, as in cache-aside.
pub const TTL_SECONDS: u64 = 3600;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Redis had it.
    Cache,
    /// The store was read.
    Database,
}

/// The Redis key of customer `id`: `customer:{id}`, the id in hex.
pub fn customer_key(id: ObjectId) -> String {
    format!("customer:{id}")
}

/// What the cache holds for `customer`: its JSON as the API shows it, the
/// same text the cache-aside exercise stores.
pub fn customer_json(customer: &Customer) -> String {
    CustomerJson::of(customer).to_json()
}

/// Why the store could not answer: in the lab the store is MongoDB, so its
/// errors are the driver's.
pub type StoreError = lab::mongodb::error::Error;

/// Where customers really live (MongoDB's `customers` collection in the
/// lab; the tests count how often it is read).
pub trait CustomerStore {
    /// The customer with this id, or `None` if there is none.
    fn load(
        &self,
        id: ObjectId,
    ) -> impl Future<Output = Result<Option<Customer>, StoreError>> + Send;
    /// Replaces the stored customer that has `customer.id`; `Ok(false)` if
    /// no customer has that id (nothing was written).
    fn save(&self, customer: &Customer) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Why the cache could not answer or save.
#[derive(Debug, Error)]
pub enum CacheError {
    /// `save` was given a customer the store does not have.
    #[error("there is no customer {id}; create the customer before saving a change")]
    NotFound {
        /// The id that matched nothing.
        id: ObjectId,
    },
    /// The store failed or refused the write (an email already used, say).
    #[error("the customer store failed: {0}")]
    Store(#[from] StoreError),
    /// Redis did not answer.
    #[error(
        "redis did not answer: {0}; check that the lab's Redis is running (`cargo lab status`)"
    )]
    Redis(#[from] RedisError),
}

/// Redis in front of a customer store, read-through and write-through.
#[derive(Debug, Clone)]
pub struct CustomerCache<S> {
    redis: ConnectionManager,
    store: S,
}

impl<S: CustomerStore> CustomerCache<S> {
    /// A cache over `store`, keeping its entries in `redis`.
    pub fn new(redis: ConnectionManager, store: S) -> CustomerCache<S> {
        CustomerCache { redis, store }
    }

    /// Customer `id` as JSON (`None` if there is no such customer), and
    /// where the answer came from: Redis if it has the key, else the store,
    /// whose answer the cache then keeps for [`TTL_SECONDS`]. A customer the
    /// store does not have is not kept, and a store or a Redis that fails is
    /// an error, never `None`.
    pub async fn get(&self, id: ObjectId) -> Result<(Option<String>, Origin), CacheError> {
        // A ConnectionManager is cheap to clone, and every clone shares one
        // connection: this is how a `&self` method gets a `&mut` to send on.
        let mut redis = self.redis.clone();
        let key = customer_key(id);
        let cached: Option<String> = redis.get(&key).await?;
        if let Some(json) = cached {
            return Ok((Some(json), Origin::Cache));
        }
        let Some(customer) = self.store.load(id).await? else {
            return Ok((None, Origin::Database));
        };
        let json = customer_json(&customer);
        // NX: store the copy only if the key is still absent. While this
        // read was waiting for the store, a `save` may have written a newer
        // customer into Redis; the copy read here is then the older one and
        // must not replace it. EX in the same command: no moment without an
        // expiry.
        let options = SetOptions::default()
            .conditional_set(ExistenceCheck::NX)
            .with_expiration(SetExpiry::EX(TTL_SECONDS));
        redis.set_options::<_, _, ()>(&key, &json, options).await?;
        Ok((Some(json), Origin::Database))
    }

    /// Saves a change of `customer` in the store, then writes its new JSON
    /// into Redis for [`TTL_SECONDS`]. When the store fails or has no such
    /// customer, Redis is not touched.
    pub async fn save(&self, customer: &Customer) -> Result<(), CacheError> {
        // The store first. If it refuses the change (`?` returns its error)
        // or has no such customer, the cache must not hold a value the
        // database never had.
        if !self.store.save(customer).await? {
            return Err(CacheError::NotFound { id: customer.id });
        }
        // Then the new value, replacing any older copy, with its expiry in
        // the same command. Write rather than delete: the point of
        // write-through is that the next read is a hit with fresh data.
        //
        // A teaching simplification: two saves of one customer at the same
        // moment can reach Redis in the other order than they reached
        // MongoDB, and a Redis that fails here leaves the old copy until it
        // expires. The lab's own cache (src/cache/customer.rs) avoids both:
        // it deletes the entry with a generation number instead, and
        // retries a delete that Redis missed.
        let mut redis = self.redis.clone();
        redis
            .set_ex::<_, _, ()>(
                customer_key(customer.id),
                customer_json(customer),
                TTL_SECONDS,
            )
            .await?;
        Ok(())
    }
}
