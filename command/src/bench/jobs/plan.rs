//! What `lab bench jobs` measures: the worker counts, the slots, and the
//! sizes of its runs.

use std::path::PathBuf;

use lab::dataset::SeedSpec;

/// The worker process counts measured.
pub const WORKER_COUNTS: [usize; 2] = [1, 2];

/// Worker processes of the comparison with RQ (and of the target).
pub const RQ_WORKERS: usize = 2;

/// Slots of the Sidekiq-style run, as in Sidekiq's published figure.
pub const SIDEKIQ_CONCURRENCY: usize = 30;

/// What to measure.
#[derive(Debug, Clone)]
pub struct JobsBenchPlan {
    /// The `lab` program, run as the workers.
    pub lab: PathBuf,
    /// No-op jobs per throughput run (the lab's and RQ's).
    pub jobs: usize,
    /// Slots per worker process in the throughput runs.
    pub concurrency: usize,
    /// Jobs whose pick-up is timed.
    pub samples: usize,
    /// Jobs of the Sidekiq-style run.
    pub drain_jobs: usize,
    /// The data set of the revenue comparison.
    pub spec: SeedSpec,
    /// Rounds of the revenue comparison.
    pub rounds: u32,
    /// Masters of the Redis Clusters to measure throughput on, one run each
    /// with [`RQ_WORKERS`] workers (none: no cluster runs).
    pub cluster_masters: Vec<usize>,
}
