//! `lab bench jobs`: what the job system costs by itself, next to RQ and
//! Sidekiq, and what running an analysis as a job costs next to running it
//! directly.
//!
//! 1. Throughput of no-op jobs end to end (submit, claim, save the result
//!    in MongoDB, complete) with 1 and 2 `lab worker` processes of
//!    [`JobsBenchPlan::concurrency`] slots each, timed from the first
//!    submission to the last completion. The jobs are submitted by
//!    [`JobQueue::submit`](lab::jobs::JobQueue::submit), [`SUBMITS_IN_FLIGHT`] at a time over one
//!    multiplexed connection (one submission at a time would measure the
//!    submitter's round trips, not the workers).
//! 2. RQ on the same Redis with two `rq worker` processes and the same
//!    number of no-op jobs ([`rq`](super::rq)), and the ratio; the target
//!    is [`TARGET_TIMES_RQ`] times RQ and at least [`TARGET_RATE`] jobs/s.
//! 3. Pick-up latency with idle workers: jobs submitted one at a time, the
//!    time from `queued` to `running` read from the job's event stream
//!    (both stamps from Redis's clock).
//! 4. Sidekiq's manner (its `bin/sidekiqload`): the jobs submitted first,
//!    then one worker process of [`SIDEKIQ_CONCURRENCY`] slots drains
//!    them, timed from the process's start; printed beside Sidekiq's
//!    published figure and this machine's CPU.
//! 5. Revenue by customer over a data set of the size asked for, as a job
//!    (submit to succeeded, result saved) and as the same pipeline through
//!    the driver.
//!
//! Everything runs on scratch servers of its own: a fresh `redis-server`,
//! and a fresh embedded MongoDB unless `MONGODB_URI` is set.

mod cluster;
mod plan;
mod queue;
mod report;
mod run;
mod targets;
mod workers;

pub use plan::{JobsBenchPlan, RQ_WORKERS, SIDEKIQ_CONCURRENCY, WORKER_COUNTS};
pub use queue::SUBMITS_IN_FLIGHT;
pub use report::{JobsBenchReport, RqOutcome, Throughput};
pub use run::run;
pub use targets::{SIDEKIQ_PUBLISHED, SIDEKIQ_RATE, TARGET_RATE, TARGET_TIMES_RQ};
