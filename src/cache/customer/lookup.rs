//! [`CustomerCache`] and its read path: Redis first; on a miss one MongoDB
//! read per id shared by every concurrent lookup (single flight), written
//! back only if the customer's generation has not moved meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bson::doc;
use bson::oid::ObjectId;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use mongodb::Collection;
use redis::Script;

use super::keys::{MISSING, NEGATIVE_TTL, TTL, entry_key, generation_key};
use super::scripts::WRITE_BACK;
use super::stats::{CacheStats, StatsSnapshot, bump};
use crate::billing::Customer;
use crate::billing::json::CustomerJson;
use crate::cache::outbox::Outbox;
use crate::cache::patterns::Source;
use crate::cache::store::{RedisStore, jittered};

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

pub(super) struct Inner {
    pub(super) store: RedisStore,
    pub(super) customers: Box<dyn CustomerReader>,
    pub(super) stats: CacheStats,
    /// Loads under way, each with a token so that only it removes itself.
    pub(super) in_flight: Mutex<HashMap<ObjectId, (u64, Load)>>,
    pub(super) next_token: AtomicU64,
    /// Writes whose invalidation Redis has not taken yet, by customer.
    pub(super) pending_invalidations: Mutex<HashMap<ObjectId, Vec<super::invalidation::Waiting>>>,
    pub(super) outbox: Option<Outbox>,
}

/// The customer cache; cheap to clone, one per process.
#[derive(Clone)]
pub struct CustomerCache {
    pub(super) inner: Arc<Inner>,
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
                pending_invalidations: Mutex::new(HashMap::new()),
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

    pub(super) fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, (u64, Load)>> {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
