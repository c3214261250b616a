//! The cache in front of `GET /customers/{id}`: cache-aside, done so that it
//! stays correct under load and failure.
//!
//! - **Entries**: `customer:{id}` holds the customer's JSON for an hour (plus
//!   jitter). A customer that does not exist is remembered too, as `null`
//!   for [`NEGATIVE_TTL`], so a flood of requests for a wrong id does not
//!   reach the database each time.
//! - **Invalidation**: every write to a customer (create, update, delete)
//!   calls [`CustomerCache::invalidate`] *after* the database has it, which
//!   deletes the entry and bumps `customer:{id}:generation` in one script.
//! - **No stale write-back**: a reader notes the generation before it reads
//!   the database, and writes its answer back only if the generation is
//!   still the same (a compare-and-set script). A slow reader that read the
//!   customer before an update can therefore never cache that old copy.
//! - **One database read per key at a time**: concurrent misses for the same
//!   id in this process share one load (single flight).
//! - **Redis down or slow**: every Redis call has a deadline; on failure the
//!   answer comes from MongoDB. An invalidation that could not reach Redis is
//!   kept and retried, and until it succeeds that customer is not served
//!   from the cache (a stale entry might still be there). With an
//!   [`Outbox`], that promise survives restarts of the API and of Redis:
//!   the intention is in MongoDB before the write, and a new process reads
//!   it back ([`CustomerCache::restore_pending`]).
//!
//! Counters for all of this are in [`CacheStats`], shown at `/metrics`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use mongodb::Collection;
use redis::Script;
use serde::Serialize;

use super::outbox::Outbox;
use super::patterns::Source;
use super::store::{RedisStore, jittered};
use crate::billing::Customer;
use crate::billing::json::CustomerJson;

/// How long a customer stays cached.
pub const TTL: Duration = Duration::from_secs(3600);
/// How long "no such customer" stays cached.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// What a negative entry holds.
const MISSING: &str = "null";

/// Deletes the entry and bumps the generation, atomically.
const INVALIDATE: &str = r"
redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])
";

/// Writes the entry only if the generation is still the one the reader saw.
const WRITE_BACK: &str = r"
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// The cache's counters, since the process started.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Answers found in Redis (customers and negative entries).
    pub hits: AtomicU64,
    /// Of those, negative entries ("no such customer").
    pub negative_hits: AtomicU64,
    /// Lookups Redis did not answer, which went to MongoDB.
    pub misses: AtomicU64,
    /// Lookups for which Redis was unavailable or too slow.
    pub fallbacks: AtomicU64,
    /// Reads of MongoDB made by the cache.
    pub database_reads: AtomicU64,
    /// Lookups that waited for another lookup's database read instead of
    /// making their own.
    pub coalesced: AtomicU64,
    /// Answers written back to Redis.
    pub write_backs: AtomicU64,
    /// Write-backs refused because the customer changed meanwhile.
    pub stale_write_backs_refused: AtomicU64,
    /// Invalidations applied.
    pub invalidations: AtomicU64,
    /// Invalidations that could not reach Redis at first and were retried.
    pub invalidations_deferred: AtomicU64,
}

/// A snapshot of [`CacheStats`], for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// See [`CacheStats::hits`].
    pub hits: u64,
    /// See [`CacheStats::negative_hits`].
    pub negative_hits: u64,
    /// See [`CacheStats::misses`].
    pub misses: u64,
    /// See [`CacheStats::fallbacks`].
    pub fallbacks: u64,
    /// See [`CacheStats::database_reads`].
    pub database_reads: u64,
    /// See [`CacheStats::coalesced`].
    pub coalesced: u64,
    /// See [`CacheStats::write_backs`].
    pub write_backs: u64,
    /// See [`CacheStats::stale_write_backs_refused`].
    pub stale_write_backs_refused: u64,
    /// See [`CacheStats::invalidations`].
    pub invalidations: u64,
    /// See [`CacheStats::invalidations_deferred`].
    pub invalidations_deferred: u64,
}

impl CacheStats {
    /// The counters' current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: read(&self.hits),
            negative_hits: read(&self.negative_hits),
            misses: read(&self.misses),
            fallbacks: read(&self.fallbacks),
            database_reads: read(&self.database_reads),
            coalesced: read(&self.coalesced),
            write_backs: read(&self.write_backs),
            stale_write_backs_refused: read(&self.stale_write_backs_refused),
            invalidations: read(&self.invalidations),
            invalidations_deferred: read(&self.invalidations_deferred),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The customer, as JSON text.
    Found {
        /// `CustomerJson` text, ready to embed in a response.
        json: Arc<str>,
        /// Where it came from.
        source: Source,
    },
    /// There is no such customer.
    Missing {
        /// Where that answer came from.
        source: Source,
    },
}

/// MongoDB could not answer a lookup.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading customer {id} from MongoDB failed: {source}")]
pub struct LookupFailed {
    /// The customer.
    pub id: ObjectId,
    /// The driver's error.
    #[source]
    pub source: Arc<mongodb::error::Error>,
}

type Load = Shared<BoxFuture<'static, Result<Lookup, LookupFailed>>>;

/// Where the cache reads customers from: MongoDB's customers collection, or
/// in tests a reader that can be held up at the worst moment.
pub trait CustomerReader: Send + Sync + 'static {
    /// Customer `id`, or `None` if there is no such customer.
    fn read(&self, id: ObjectId) -> BoxFuture<'_, mongodb::error::Result<Option<Customer>>>;
}

impl CustomerReader for Collection<Customer> {
    fn read(&self, id: ObjectId) -> BoxFuture<'_, mongodb::error::Result<Option<Customer>>> {
        self.find_one(doc! { "_id": id }).into_future().boxed()
    }
}

struct Inner {
    store: RedisStore,
    customers: Box<dyn CustomerReader>,
    stats: CacheStats,
    /// Loads under way, each with a token so that only it removes itself.
    in_flight: Mutex<HashMap<ObjectId, (u64, Load)>>,
    next_token: AtomicU64,
    pending_invalidations: Mutex<HashSet<ObjectId>>,
    outbox: Option<Outbox>,
}

/// The customer cache; cheap to clone, one per process.
#[derive(Clone)]
pub struct CustomerCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CustomerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerCache")
            .field("stats", &self.inner.stats.snapshot())
            .finish()
    }
}

/// Whether `text` is well-formed JSON (checked without building it).
fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// `customer:{ID}`, the braces included: the id is the key's hash tag, so
/// on a Redis Cluster a customer's entry and generation share a slot and the
/// scripts that read one and write the other run on one node.
pub fn entry_key(id: ObjectId) -> String {
    format!("customer:{{{id}}}")
}

/// `customer:{ID}:generation`, in the slot of [`entry_key`].
pub fn generation_key(id: ObjectId) -> String {
    format!("customer:{{{id}}}:generation")
}

impl CustomerCache {
    /// A cache in `store` of the customers `customers` reads (normally the
    /// customers collection).
    pub fn new(store: RedisStore, customers: impl CustomerReader) -> CustomerCache {
        Self::build(store, customers, None)
    }

    /// Like [`CustomerCache::new`], keeping invalidations Redis has not yet
    /// applied in `outbox`, so that they survive a restart.
    pub fn with_outbox(
        store: RedisStore,
        customers: impl CustomerReader,
        outbox: Outbox,
    ) -> CustomerCache {
        Self::build(store, customers, Some(outbox))
    }

    fn build(
        store: RedisStore,
        customers: impl CustomerReader,
        outbox: Option<Outbox>,
    ) -> CustomerCache {
        CustomerCache {
            inner: Arc::new(Inner {
                store,
                customers: Box::new(customers),
                stats: CacheStats::default(),
                in_flight: Mutex::new(HashMap::new()),
                next_token: AtomicU64::new(0),
                pending_invalidations: Mutex::new(HashSet::new()),
                outbox,
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Customer `id`, from Redis if it is there, else from MongoDB.
    pub async fn get(&self, id: ObjectId) -> Result<Lookup, LookupFailed> {
        let inner = &self.inner;
        if self.settle_pending(id).await {
            match inner.store.get(&entry_key(id)).await {
                // Anything else under the key (written by another program)
                // is not served: the load below replaces it.
                Ok(Some(text)) if text != MISSING && !is_json(&text) => bump(&inner.stats.misses),
                Ok(Some(text)) => {
                    bump(&inner.stats.hits);
                    if text == MISSING {
                        bump(&inner.stats.negative_hits);
                        return Ok(Lookup::Missing {
                            source: Source::Cache,
                        });
                    }
                    return Ok(Lookup::Found {
                        json: text.into(),
                        source: Source::Cache,
                    });
                }
                Ok(None) => bump(&inner.stats.misses),
                Err(_) => bump(&inner.stats.fallbacks),
            }
        } else {
            bump(&inner.stats.fallbacks);
        }
        self.load_once(id).await
    }

    /// To call before every write to customer `id`: records in the outbox
    /// (when there is one) that its entry must be invalidated, so that not
    /// even a crash between the write and [`CustomerCache::invalidate`]
    /// leaves a stale entry served. Do not write when this fails.
    pub async fn intend(&self, id: ObjectId) -> mongodb::error::Result<()> {
        match &self.inner.outbox {
            Some(outbox) => outbox.intend(id).await,
            None => Ok(()),
        }
    }

    /// To call after every write to customer `id` has reached MongoDB:
    /// removes the cached copy (or the negative entry) and makes any read
    /// already under way unable to write back what it read.
    pub async fn invalidate(&self, id: ObjectId) {
        // A load under way may have read the old document: lookups from now
        // on must not wait for it, but start their own.
        self.in_flight().remove(&id);
        if self.try_invalidate(id).await {
            self.applied(id).await;
        } else {
            bump(&self.inner.stats.invalidations_deferred);
            self.pending().insert(id);
        }
    }

    /// Reads back the invalidations a previous process left in the outbox:
    /// until Redis has applied them, those customers are not served from
    /// the cache. Returns how many there were.
    pub async fn restore_pending(&self) -> mongodb::error::Result<usize> {
        let Some(outbox) = &self.inner.outbox else {
            return Ok(0);
        };
        let waiting = outbox.pending().await?;
        self.pending().extend(waiting.iter().copied());
        Ok(waiting.len())
    }

    /// Retries the invalidations Redis missed; returns how many are left.
    pub async fn retry_pending(&self) -> usize {
        let waiting: Vec<ObjectId> = self.pending().iter().copied().collect();
        for id in waiting {
            if self.try_invalidate(id).await {
                self.pending().remove(&id);
                self.applied(id).await;
            }
        }
        self.pending().len()
    }

    /// Redis has applied the invalidation of `id`: its outbox record goes.
    async fn applied(&self, id: ObjectId) {
        if let Some(outbox) = &self.inner.outbox {
            outbox.done(id).await;
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, (u64, Load)>> {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<ObjectId>> {
        self.inner
            .pending_invalidations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `true` when the cache may be used for `id`: no invalidation of it is
    /// waiting, or the waiting one has just been applied.
    async fn settle_pending(&self, id: ObjectId) -> bool {
        if !self.pending().contains(&id) {
            return true;
        }
        if self.try_invalidate(id).await {
            self.pending().remove(&id);
            self.applied(id).await;
            return true;
        }
        false
    }

    async fn try_invalidate(&self, id: ObjectId) -> bool {
        let keys = [entry_key(id), generation_key(id)];
        let applied: Result<i64, _> = self
            .inner
            .store
            .run_script(&Script::new(INVALIDATE), &[&keys[0], &keys[1]], &[])
            .await;
        if applied.is_ok() {
            bump(&self.inner.stats.invalidations);
        }
        applied.is_ok()
    }

    /// Loads `id` from MongoDB, sharing the read with any concurrent lookup
    /// of the same id.
    async fn load_once(&self, id: ObjectId) -> Result<Lookup, LookupFailed> {
        let load = {
            let mut in_flight = self.in_flight();
            match in_flight.get(&id) {
                Some((_, load)) => {
                    bump(&self.inner.stats.coalesced);
                    load.clone()
                }
                None => {
                    let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
                    let load = self.clone().load(id, token).boxed().shared();
                    in_flight.insert(id, (token, load.clone()));
                    load
                }
            }
        };
        load.await
    }

    async fn load(self, id: ObjectId, token: u64) -> Result<Lookup, LookupFailed> {
        let outcome = self.read_and_write_back(id).await;
        let mut in_flight = self.in_flight();
        if in_flight
            .get(&id)
            .is_some_and(|(current, _)| *current == token)
        {
            in_flight.remove(&id);
        }
        outcome
    }

    async fn read_and_write_back(&self, id: ObjectId) -> Result<Lookup, LookupFailed> {
        let inner = &self.inner;
        let usable = self.settle_pending(id).await;
        // The generation before the read: if a write lands while we read,
        // it changes, and our copy is not written back. The entry comes in
        // the same round trip: a reader that missed just before the last
        // load wrote it back finds it here instead of reading MongoDB again.
        let generation = if usable {
            match inner
                .store
                .get_pair(&entry_key(id), &generation_key(id))
                .await
            {
                Ok((Some(text), _)) if text == MISSING => {
                    return Ok(Lookup::Missing {
                        source: Source::Cache,
                    });
                }
                Ok((Some(text), _)) if is_json(&text) => {
                    return Ok(Lookup::Found {
                        json: text.into(),
                        source: Source::Cache,
                    });
                }
                Ok((_, generation)) => Some(generation.unwrap_or_else(|| "0".to_owned())),
                Err(_) => None,
            }
        } else {
            None
        };
        bump(&inner.stats.database_reads);
        let found = inner
            .customers
            .read(id)
            .await
            .map_err(|source| LookupFailed {
                id,
                source: Arc::new(source),
            })?;
        let (lookup, text, ttl) = match &found {
            Some(customer) => {
                let json: Arc<str> = CustomerJson::of(customer).to_json().into();
                let text = json.to_string();
                (
                    Lookup::Found {
                        json,
                        source: Source::Database,
                    },
                    text,
                    TTL,
                )
            }
            None => (
                Lookup::Missing {
                    source: Source::Database,
                },
                MISSING.to_owned(),
                NEGATIVE_TTL,
            ),
        };
        if let Some(generation) = generation {
            let keys = [entry_key(id), generation_key(id)];
            let millis = jittered(ttl).as_millis().to_string();
            let written: Result<i64, _> = inner
                .store
                .run_script(
                    &Script::new(WRITE_BACK),
                    &[&keys[0], &keys[1]],
                    &[&generation, &text, &millis],
                )
                .await;
            match written {
                Ok(1) => bump(&inner.stats.write_backs),
                Ok(_) => bump(&inner.stats.stale_write_backs_refused),
                Err(_) => {}
            }
        }
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::keys::key_slot;

    #[test]
    fn a_customers_entry_and_generation_share_a_slot_and_customers_spread() {
        let ids: Vec<ObjectId> = (0..50).map(|_| ObjectId::new()).collect();
        for id in &ids {
            assert_eq!(key_slot(&entry_key(*id)), key_slot(&generation_key(*id)));
        }
        let slots: std::collections::HashSet<u16> =
            ids.iter().map(|id| key_slot(&entry_key(*id))).collect();
        assert!(
            slots.len() > 40,
            "different customers land in different slots"
        );
    }
}
