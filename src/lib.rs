//! # The lab's support crate
//!
//! A Rust teaching lab for Redis, MongoDB and background jobs. This crate is
//! the course's model: what the notebooks, the exercises, the answer key and
//! the `lab` command share. The command and its operations (bringing the lab
//! up and down, grading, the lessons' Jupyter, benchmarks) are the workspace
//! member `lab-command` (`command/`), which depends on this crate and never
//! the other way round, so a notebook's kernel builds only the model. A map:
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
//! - [`running`]: the running lab as others find it: the state file `lab up`
//!   writes, its secrets, and where Redis and MongoDB are.
//! - [`jobs`]: background jobs on Redis: the queue and its state machine.
//! - [`notebook`]: what a notebook's first cell calls to reach the running lab.
//! - [`testing`]: the harness that gives each test its own Redis server and
//!   its own MongoDB database.
//! - `startup` (feature `api`): the one place the API and a worker are
//!   connected, prepared and bound.
//! - [`tasks`]: work that must finish once begun, whoever stops waiting.

pub mod analysis;
#[cfg(feature = "api")]
pub mod api;
pub mod billing;
pub mod cache;
pub mod config;
pub mod dataset;
pub mod jobs;
pub mod notebook;
pub mod running;
pub mod services;
#[cfg(feature = "api")]
pub mod startup;
pub mod tasks;
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
