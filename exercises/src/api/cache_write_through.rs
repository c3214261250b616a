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
//!
//! Write the two methods marked `// TODO`, `get` and `save`; everything else
//! is given. Run `cargo lab grade cache-write-through` to check your work,
//! and `cargo lab hint cache-write-through` if you are stuck.

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
        // TODO: look in Redis first, with one GET of `customer_key(id)`. A hit
        // answers the cached JSON without reading the store. On a miss, load
        // the customer from `self.store`, cache `customer_json(..)` for
        // TTL_SECONDS in one command, and answer it. Careful: a `save` can
        // write a newer copy into Redis while this read waits for the store;
        // the copy you loaded must not replace it. `self.redis.clone()` gives
        // you a connection to send commands on.
        todo!("get: GET the key; on a miss load from the store and cache the JSON")
    }

    /// Saves a change of `customer` in the store, then writes its new JSON
    /// into Redis for [`TTL_SECONDS`]. When the store fails or has no such
    /// customer, Redis is not touched.
    pub async fn save(&self, customer: &Customer) -> Result<(), CacheError> {
        // TODO: save to the store first. If the store fails, pass its error
        // on; if it has no customer with this id, answer
        // `CacheError::NotFound`. In both cases leave Redis alone. Only when
        // the store has the change, write the new JSON under the customer's
        // key, with its TTL, in one command (or in one transaction).
        todo!("save: the store first, then the new value into Redis")
    }
}
