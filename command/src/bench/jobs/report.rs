//! What `lab bench jobs` measured: throughput per run, RQ's side, pick-up
//! latency and the revenue comparison.

use std::time::Duration;

use super::plan::RQ_WORKERS;
use crate::bench::Phase;
use crate::bench::machine::Machine;
use lab::dataset::SeedSpec;

/// Throughput of one run.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Worker processes.
    pub workers: usize,
    /// Slots (jobs run at once) per process.
    pub concurrency: usize,
    /// Jobs run.
    pub jobs: usize,
    /// How long they took (see the list in [`bench::jobs`](super) for from
    /// when to when).
    pub elapsed: Duration,
}

impl Throughput {
    /// Jobs per second.
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.elapsed.as_secs_f64()
    }
}

/// RQ's side of the comparison.
#[derive(Debug, Clone)]
pub enum RqOutcome {
    /// Measured.
    Measured {
        /// Its throughput (concurrency 1: one job per worker at a time).
        throughput: Throughput,
        /// Jobs RQ failed (0 unless something is wrong).
        failed: u64,
    },
    /// Not measured, and why (with what to do).
    Skipped(String),
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct JobsBenchReport {
    /// Which MongoDB server answered.
    pub server: String,
    /// What it ran on.
    pub machine: Machine,
    /// No-op throughput per worker count.
    pub throughput: Vec<Throughput>,
    /// RQ with [`RQ_WORKERS`] workers, same jobs, same Redis.
    pub rq: RqOutcome,
    /// Pick-up latency (queued to running) with idle workers.
    pub pickup: Phase,
    /// One process of [`SIDEKIQ_CONCURRENCY`](super::SIDEKIQ_CONCURRENCY) slots
    /// draining a full queue.
    pub sidekiq_style: Throughput,
    /// Throughput on a Redis Cluster of each number of masters asked for,
    /// the queue in two shards per master.
    pub cluster: Vec<(usize, Throughput)>,
    /// The data set of the revenue comparison.
    pub spec: SeedSpec,
    /// Each round of revenue by customer as a job.
    pub as_job: Vec<Duration>,
    /// Each round of the same pipeline through the driver.
    pub direct: Vec<Duration>,
}

impl JobsBenchReport {
    /// The run with [`RQ_WORKERS`] lab workers, the one the targets are for.
    pub fn compared(&self) -> Option<&Throughput> {
        self.throughput.iter().find(|run| run.workers == RQ_WORKERS)
    }

    /// How many times RQ's rate the lab's reached with as many workers.
    pub fn times_rq(&self) -> Option<f64> {
        match (&self.rq, self.compared()) {
            (RqOutcome::Measured { throughput, .. }, Some(lab)) => {
                Some(lab.rate() / throughput.rate())
            }
            _ => None,
        }
    }
}
