//! What a test's Redis was sent between two points, so a graded test can
//! check the technique (one `SET ... EX` rather than `SET` then `EXPIRE`,
//! `LMOVE` rather than a pop and a push) and not only the final state.
//!
//! ```no_run
//! # async fn example() {
//! # let env = lab::testing::TestEnv::start().await;
//! # let mut redis = env.redis().await;
//! let recording = env.record_redis().await;
//! let _: () = redis::cmd("SET").arg("k").arg("v").arg("EX").arg(60).query_async(&mut redis).await.unwrap();
//! let sent = recording.finish().await;
//! assert_eq!(sent.names(), ["SET"]);
//! # }
//! ```
//!
//! The commands are read from `MONITOR`, not from a wrapper around the
//! student's connection. MONITOR reports what the server executed, in the
//! order it executed it, including the commands a Lua script ran and those
//! queued in a `MULTI`/`EXEC` transaction, whichever client or connection
//! type the student's code used. `INFO commandstats` would only give counts
//! (not the order, arguments or context), and a recording connection would
//! see a script as one opaque `EVALSHA`.
//!
//! Round trips are counted from the server's `total_reads_processed`: one
//! network read per request the client sends and waits for, however many
//! commands a pipeline packs into it. The figure is exact only on a server
//! no other client uses, so it is given only when the test owns its Redis.
//!
//! - `sent.rs`: what was run ([`RedisLog`], [`RedisCommand`], [`Context`]),
//!   and the questions a graded test asks of it.
//! - `recording.rs`: a recording ([`RedisRecording`]), from `MONITOR` and
//!   the server's read counter.
//! - `monitor.rs`: the `MONITOR` connection's wire: its URL, its requests
//!   and its lines.

mod monitor;
mod recording;
mod sent;

pub use recording::RedisRecording;
pub use sent::{Context, RedisCommand, RedisLog};
