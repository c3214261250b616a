//! The Redis side of every cache: reads and writes that give up quickly.
//!
//! A cache is an optimisation, so a cache that is down or slow must cost a
//! few milliseconds, not an outage: every call here has a deadline, and a
//! failure is reported as [`CacheUnavailable`] for the caller to fall back on.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use redis::{AsyncCommands, Script};

use crate::services::RedisConnection;

/// How long a cache call may take before the caller goes to the database.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(250);

/// The cache could not be used for this call; the database must answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cache is unavailable: {reason}")]
pub struct CacheUnavailable {
    /// What went wrong, for logs.
    pub reason: String,
}

/// Redis (one server or a cluster) with a deadline on every call.
#[derive(Clone)]
pub struct RedisStore {
    redis: RedisConnection,
    deadline: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl RedisStore {
    /// A store over `redis` whose calls give up after `deadline`.
    pub fn new(redis: impl Into<RedisConnection>, deadline: Duration) -> RedisStore {
        RedisStore {
            redis: redis.into(),
            deadline,
        }
    }

    /// The value under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<String>, CacheUnavailable> {
        let mut redis = self.redis.clone();
        self.within(redis.get(key)).await
    }

    /// The values under `first` and `second` in one round trip (`MGET`; on
    /// a cluster both keys must share a slot, as a hash tag makes them).
    pub async fn get_pair(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<String>, Option<String>), CacheUnavailable> {
        let mut redis = self.redis.clone();
        let values: Vec<Option<String>> = self.within(redis.mget(&[first, second])).await?;
        let mut values = values.into_iter();
        Ok((values.next().flatten(), values.next().flatten()))
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheUnavailable> {
        let mut redis = self.redis.clone();
        let millis = ttl.as_millis().max(1) as u64;
        self.within(redis.pset_ex(key, value, millis)).await
    }

    /// Removes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), CacheUnavailable> {
        let mut redis = self.redis.clone();
        self.within(redis.del(key)).await
    }

    /// Runs `script` with `keys` and `args`.
    pub async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, CacheUnavailable> {
        let mut redis = self.redis.clone();
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        self.within(invocation.invoke_async(&mut redis)).await
    }

    async fn within<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheUnavailable> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(CacheUnavailable {
                reason: error.to_string(),
            }),
            Err(_) => Err(CacheUnavailable {
                reason: format!("no answer within {:?}", self.deadline),
            }),
        }
    }
}

/// `ttl` plus up to a tenth more, at random: entries written together (after
/// a deploy, a restart) then expire spread out instead of all at once.
pub fn jittered(ttl: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let extra = ttl.as_millis() as u64 / 10;
    ttl + Duration::from_millis(if extra == 0 { 0 } else { random % extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let hour = Duration::from_secs(3600);
        let samples: Vec<Duration> = (0..200).map(|_| jittered(hour)).collect();
        assert!(samples.iter().all(|t| *t >= hour && *t < hour + hour / 10));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "the expiries are spread out");
        assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    }
}
