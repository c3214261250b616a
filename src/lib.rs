//! # The lab's support crate
//!
//! A Rust teaching lab for Redis, MongoDB and background jobs. This crate is
//! what the notebooks, the exercises, the answer key and the `lab` command
//! share. A map:
//!
//! - [`config`]: the one module that reads the environment (`REDIS_URL`,
//!   `MONGODB_URI`, `MONGODB_DB`, `LAB_HOME`, ports).
//! - [`services`]: finding or installing `redis-server` and the embedded
//!   MongoDB server, starting and stopping them, connecting to any server.
//! - [`billing`]: the course's data model: customers, invoices, line items,
//!   exact [`billing::Money`].
//! - `api` (feature `api`): the billing API on axum, served by `lab serve`.
//! - [`cache`]: Redis in front of MongoDB: the three patterns and the
//!   customer cache.
//! - [`analysis`]: the reports (revenue per customer and per month, top
//!   customers, overdue invoices, statuses) as aggregation pipelines.
//! - [`dataset`]: a deterministic generator of realistic billing data and the
//!   loader that writes it to MongoDB.
//! - [`control`]: what `lab up`, `lab down`, `lab status`, `lab env` and
//!   `lab doctor` do, and the state file that records a running lab.
//! - [`jobs`]: background jobs on Redis: the queue and its state machine.
//! - [`grading`]: `lab grade`, hints, resets and the course's own checks.
//! - [`notebook`]: what a notebook's first cell calls to reach the running lab.
//! - [`lessons`]: notebook files, the lab's own Jupyter, and the check that
//!   every notebook still runs and prints what it shows.
//! - [`testing`]: the harness that gives each test its own Redis server and
//!   its own MongoDB database.
//! - [`bench`](mod@bench): the measurements behind `lab bench`.
//!
//! The `lab` binary (`src/bin/lab/`) only parses arguments and prints; the
//! logic is here, where it is tested.

pub mod analysis;
#[cfg(feature = "api")]
pub mod api;
pub mod bench;
pub mod billing;
pub mod cache;
pub mod config;
pub mod control;
pub mod dataset;
pub mod grading;
pub mod jobs;
pub mod lessons;
pub mod notebook;
pub mod services;
#[cfg(feature = "api")]
pub mod startup;
pub mod testing;

pub use config::Config;

// The drivers, re-exported so a notebook needs one `:dep` line (this crate)
// and always gets the versions the lab is tested with.
pub use bson;
/// Futures helpers (`join_all`, streams), for notebooks that run many
/// requests at once on one task.
pub use futures_util as futures;
pub use mongodb;
pub use redis;
pub use serde_json;
// With the `api` feature, the web stack too, for notebooks 07 and later.
#[cfg(feature = "api")]
pub use axum;
#[cfg(feature = "api")]
pub use tower;
