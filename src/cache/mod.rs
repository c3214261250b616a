//! Redis in front of MongoDB.
//!
//! - [`store`]: Redis calls with a deadline, so a slow or absent cache costs
//!   milliseconds and never an error.
//! - [`patterns`]: cache-aside, write-through and read-through as small
//!   building blocks, the shapes the lessons teach.
//! - [`customer`]: the cache behind `GET /customers/{id}`, with negative
//!   entries, invalidation, one database read per key, and no stale
//!   write-back.
//! - [`outbox`]: invalidations recorded in MongoDB before the write, so that
//!   a restart cannot forget them.

pub mod customer;
pub mod outbox;
pub mod patterns;
pub mod store;

pub use customer::{CustomerCache, Lookup};
pub use outbox::Outbox;
pub use patterns::{CacheAside, Loader, ReadThrough, Source, WriteThrough};
pub use store::{CacheUnavailable, RedisStore};
