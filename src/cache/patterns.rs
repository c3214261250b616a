//! The three caching patterns of the course notes, as small building blocks
//! over a [`RedisStore`]. Values are stored as JSON text; a cache that is
//! unavailable is treated as a miss, so the database always has the last
//! word.
//!
//! - [`CacheAside`]: the application looks in the cache, and on a miss reads
//!   the database itself and fills the cache. After a write it removes the
//!   entry ([`CacheAside::invalidate`]).
//! - [`WriteThrough`]: every write goes to the database and then to the
//!   cache, so reads right after a write find fresh data in the cache.
//! - [`ReadThrough`]: the application only asks the cache; the cache knows
//!   how to load a missing value (a [`Loader`]) and does so itself.
//!
//! These are the shapes to learn. `GET /customers/{id}` needs more than the
//! shape (one database read for many simultaneous misses, no stale
//! write-back, negative entries, metrics): see [`super::customer`].

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::{RedisStore, jittered};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Found in Redis.
    Cache,
    /// Read from MongoDB.
    Database,
}

/// Reads `key` from the cache as a `T`; a missing, unreadable or unavailable
/// entry is a miss.
async fn cached<T: DeserializeOwned>(store: &RedisStore, key: &str) -> Option<T> {
    let text = store.get(key).await.ok()??;
    serde_json::from_str(&text).ok()
}

/// Writes `value` under `key`; a cache that is unavailable is skipped.
async fn fill<T: Serialize>(store: &RedisStore, key: &str, value: &T, ttl: Duration) {
    if let Ok(text) = serde_json::to_string(value) {
        let _ = store.set(key, &text, jittered(ttl)).await;
    }
}

/// Cache-aside: look in the cache, else load and fill.
#[derive(Debug, Clone)]
pub struct CacheAside {
    store: RedisStore,
    ttl: Duration,
}

impl CacheAside {
    /// Entries live for `ttl` (plus a little jitter).
    pub fn new(store: RedisStore, ttl: Duration) -> CacheAside {
        CacheAside { store, ttl }
    }

    /// The value under `key`: from the cache, or from `load` (whose answer
    /// is then cached; `None` is not).
    pub async fn get<T, E>(
        &self,
        key: &str,
        load: impl AsyncFnOnce() -> Result<Option<T>, E>,
    ) -> Result<Option<(T, Source)>, E>
    where
        T: Serialize + DeserializeOwned,
    {
        if let Some(value) = cached(&self.store, key).await {
            return Ok(Some((value, Source::Cache)));
        }
        let Some(value) = load().await? else {
            return Ok(None);
        };
        fill(&self.store, key, &value, self.ttl).await;
        Ok(Some((value, Source::Database)))
    }

    /// Removes `key` after the value changed in the database. Delete rather
    /// than overwrite: the next read loads what the database really holds.
    pub async fn invalidate(&self, key: &str) {
        let _ = self.store.delete(key).await;
    }
}

/// Write-through: the database first, then the cache.
#[derive(Debug, Clone)]
pub struct WriteThrough {
    store: RedisStore,
    ttl: Duration,
}

impl WriteThrough {
    /// Entries live for `ttl` (plus a little jitter).
    pub fn new(store: RedisStore, ttl: Duration) -> WriteThrough {
        WriteThrough { store, ttl }
    }

    /// Saves `value` with `save`, and once the database has it, caches it
    /// under `key`. If the save fails, the cache is not touched.
    pub async fn write<T, E>(
        &self,
        key: &str,
        value: &T,
        save: impl AsyncFnOnce(&T) -> Result<(), E>,
    ) -> Result<(), E>
    where
        T: Serialize,
    {
        save(value).await?;
        fill(&self.store, key, value, self.ttl).await;
        Ok(())
    }

    /// The cached value under `key`, if any.
    pub async fn read<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        cached(&self.store, key).await
    }
}

/// How a read-through cache loads what it does not have.
pub trait Loader {
    /// What is loaded.
    type Value: Serialize + DeserializeOwned;
    /// Why loading can fail.
    type Error;
    /// The value for `key`, or `None` if there is none.
    fn load(&self, key: &str) -> impl Future<Output = Result<Option<Self::Value>, Self::Error>>;
}

/// Read-through: the cache loads missing values itself.
#[derive(Debug, Clone)]
pub struct ReadThrough<L> {
    store: RedisStore,
    ttl: Duration,
    loader: L,
}

impl<L: Loader> ReadThrough<L> {
    /// A cache that asks `loader` on a miss; entries live for `ttl`.
    pub fn new(store: RedisStore, ttl: Duration, loader: L) -> ReadThrough<L> {
        ReadThrough { store, ttl, loader }
    }

    /// The value under `key`, loaded and cached on a miss.
    pub async fn get(&self, key: &str) -> Result<Option<(L::Value, Source)>, L::Error> {
        if let Some(value) = cached(&self.store, key).await {
            return Ok(Some((value, Source::Cache)));
        }
        let Some(value) = self.loader.load(key).await? else {
            return Ok(None);
        };
        fill(&self.store, key, &value, self.ttl).await;
        Ok(Some((value, Source::Database)))
    }
}
