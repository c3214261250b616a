//! The cache in front of `GET /customers/{id}`: cache-aside, done so that it
//! stays correct under load and failure.
//!
//! - **Entries**: `customer:{id}` holds the customer's JSON for an hour (plus
//!   jitter). A customer that does not exist is remembered too, as `null`
//!   for [`NEGATIVE_TTL`], so a flood of requests for a wrong id does not
//!   reach the database each time.
//! - **Invalidation**: every write to a customer (create, update, delete)
//!   goes through [`CustomerCache::write`], which invalidates the entry
//!   *after* the database has the write: it deletes the entry and moves
//!   `customer:{id}:generation` on to a value never used before (the
//!   server's clock), in one script; the generation expires two hours
//!   after the customer's last write.
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
//!   [`Outbox`](crate::cache::Outbox), that promise survives restarts of the API and of Redis:
//!   each write's intention is in MongoDB before the write (one record per
//!   write, removed once an invalidation made after it is applied), and a
//!   new process reads them back ([`CustomerCache::restore_pending`]).
//!
//! Counters for all of this are in [`CacheStats`], shown at `/metrics`.
//!
//! `lookup` holds the cache and its read path, `invalidation` the write
//! side, `keys` the Redis keys and lifetimes, `scripts` the two Lua scripts,
//! and `stats` the counters.

mod invalidation;
mod keys;
mod lookup;
mod scripts;
mod stats;

pub use keys::{GENERATION_TTL, NEGATIVE_TTL, TTL, entry_key, generation_key};
pub use lookup::{CustomerCache, CustomerReader, Lookup, LookupFailed};
pub use stats::{CacheStats, StatsSnapshot};
