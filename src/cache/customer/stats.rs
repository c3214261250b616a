//! The cache's counters, shown at `/metrics`: one relaxed atomic each, since
//! they are only ever added to and read for display.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

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

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
