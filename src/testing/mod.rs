//! The test harness: every test gets its own Redis and its own MongoDB database.
//!
//! ```no_run
//! # async fn example() {
//! let env = lab::testing::TestEnv::start_seeded().await;
//! let mut redis = env.redis().await;
//! let customers = lab::billing::collections::customers(env.database());
//! # }
//! ```
//!
//! - **Redis**: a fresh `redis-server` per test, without persistence, on a free
//!   port. Starting one takes a few milliseconds, and nothing a test does to it
//!   (FLUSHALL, CONFIG SET, a blocking command) can reach another test. With
//!   `REDIS_URL` set, each test leases one of that server's numbered databases
//!   instead and finds it empty.
//! - **MongoDB**: one embedded server per test binary (it takes a moment to
//!   start), and a database with a unique name per test. With `MONGODB_URI`
//!   set, the same unique databases are made on that server.
//!
//! Everything is torn down when the [`TestEnv`] is dropped, even when the test
//! fails; servers are tied to the test process, so a crashed run leaves none
//! behind.

mod credentials;
mod env;
mod error;
mod faults;
#[cfg(feature = "api")]
pub mod http;
pub mod inspect;
mod mongo;
pub mod mongo_log;
mod names;
mod programs;
mod redis_lease;
pub mod redis_log;
mod snapshot;
mod teardown;
mod topology;

pub use env::{TEST_DATA, TestEnv};
pub use error::HarnessError;
pub use faults::{
    killable_mongodb, restart_mongodb, restart_mongodb_on, restricted_redis, stoppable_redis,
    stoppable_redis_at, unique_index, unreachable_database, with_mongodb_down,
};
pub use mongo::MongoLease;
pub use mongo_log::{MongoCommand, MongoLog, MongoRecording};
pub use redis_lease::RedisLease;
pub use redis_log::{RedisCommand, RedisLog, RedisRecording};
pub use topology::Topology;
