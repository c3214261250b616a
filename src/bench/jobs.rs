//! `lab bench jobs`: what the job system costs by itself, next to RQ and
//! Sidekiq, and what running an analysis as a job costs next to running it
//! directly.
//!
//! 1. Throughput of no-op jobs end to end (submit, claim, save the result
//!    in MongoDB, complete) with 1 and 2 `lab worker` processes of
//!    [`JobsBenchPlan::concurrency`] slots each, timed from the first
//!    submission to the last completion. The jobs are submitted by
//!    [`JobQueue::submit`], [`SUBMITS_IN_FLIGHT`] at a time over one
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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::process::{Child, Command};

use super::machine::Machine;
use super::rq::Rq;
use super::{Phase, failed, io};
use crate::analysis::revenue;
use crate::config::Config;
use crate::control::LabError;
use crate::dataset::{self, Existing, SeedSpec};
use crate::jobs::{EventData, JobQueue, JobState, NewJob, ShardCount};
use crate::services::redis_cluster::{self, ClusterOptions};
use crate::services::{Origin, Tool, Toolbox, connect_redis, connect_redis_target, process};

/// The worker process counts measured.
pub const WORKER_COUNTS: [usize; 2] = [1, 2];

/// Worker processes of the comparison with RQ (and of the target).
pub const RQ_WORKERS: usize = 2;

/// The target with two worker processes, in jobs per second: ten
/// times the best RQ figure seen with two workers (435 jobs/s).
pub const TARGET_RATE: f64 = 4_400.0;

/// The target next to RQ measured in the same run.
pub const TARGET_TIMES_RQ: f64 = 10.0;

/// Slots of the Sidekiq-style run, as in Sidekiq's published figure.
pub const SIDEKIQ_CONCURRENCY: usize = 30;

/// Sidekiq's published figure, in its README's words.
pub const SIDEKIQ_PUBLISHED: &str =
    "Sidekiq README: 23,500 jobs/s, one process, Ruby 3.2+YJIT, concurrency 30, 500,000 jobs";

/// Sidekiq's published rate.
pub const SIDEKIQ_RATE: f64 = 23_500.0;

/// Submissions the benchmark keeps in flight at once.
pub const SUBMITS_IN_FLIGHT: usize = 64;

/// How long a worker process started for the benchmark may take to answer
/// on its status port.
const WORKER_START: Duration = Duration::from_secs(30);

/// Throughput of one run.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Worker processes.
    pub workers: usize,
    /// Slots (jobs run at once) per process.
    pub concurrency: usize,
    /// Jobs run.
    pub jobs: usize,
    /// How long they took (see the module's list for from when to when).
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
    /// One process of [`SIDEKIQ_CONCURRENCY`] slots draining a full queue.
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

/// `count` `lab worker` processes of `concurrency` slots each on the
/// scratch servers, answered on their status ports before this returns.
struct Workers(Vec<Child>);

impl Workers {
    async fn start(
        lab: &Path,
        count: usize,
        concurrency: usize,
        environment: &[(&str, String)],
    ) -> Result<Workers, LabError> {
        let mut children = Vec::new();
        for _ in 0..count {
            let port = process::free_port().map_err(io("finding a free port"))?;
            let child = Command::new(lab)
                .arg("worker")
                .arg("--concurrency")
                .arg(concurrency.to_string())
                .arg("--status-port")
                .arg(port.to_string())
                .envs(environment.iter().map(|(name, value)| (*name, value)))
                .env("LAB_JOB_DRILLS", "1")
                .env("LAB_LOG", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(io("starting a lab worker"))?;
            children.push(child);
            let started = Instant::now();
            while !process::port_accepts(port).await {
                if started.elapsed() > WORKER_START {
                    return Err(LabError::NoAnswer {
                        what: "a lab worker started for the benchmark",
                        seconds: WORKER_START.as_secs(),
                        hint: format!(
                            "nothing listens on its status port {port}; run `cargo lab worker` to see why it does not start"
                        ),
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(Workers(children))
    }

    /// SIGTERM, as `lab down` sends, then wait.
    async fn stop(mut self) {
        for child in &mut self.0 {
            if let Some(pid) = child.id() {
                process::ask_to_stop(pid);
            }
        }
        for child in &mut self.0 {
            let _ = child.wait().await;
        }
    }
}

/// What a failing Redis call of the benchmark's queue says.
const QUEUE_FAILED: &str = "the benchmark's job queue failed";

/// Waits until no job is queued, running or waiting to retry.
async fn drained(queue: &JobQueue) -> Result<(), LabError> {
    loop {
        let stats = queue.stats().await.map_err(failed(QUEUE_FAILED))?;
        if stats.queued + stats.running + stats.waiting_retry == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Submits `count` no-op jobs, [`SUBMITS_IN_FLIGHT`] at a time.
async fn submit_noops(queue: &JobQueue, count: usize) -> Result<(), LabError> {
    let job = NewJob::new("noop", "{}");
    let mut submissions = futures_util::stream::iter(0..count)
        .map(|_| queue.submit(&job))
        .buffer_unordered(SUBMITS_IN_FLIGHT);
    while let Some(submitted) = submissions.next().await {
        submitted.map_err(failed(QUEUE_FAILED))?;
    }
    Ok(())
}

/// No-op throughput with [`RQ_WORKERS`] workers on a fresh cluster of
/// `masters` masters (no replicas, nothing saved), the queue in two shards
/// per master; `environment` names the database and `LAB_HOME`.
async fn on_cluster(
    config: &Config,
    plan: &JobsBenchPlan,
    masters: usize,
    environment: &[(&str, String)],
    say: &dyn Fn(&str),
) -> Result<Throughput, LabError> {
    let program = Toolbox::new(config).ensure(Tool::RedisServer, say)?;
    let dir = config
        .home
        .join("bench")
        .join(format!("p{}-cluster-{masters}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster =
        redis_cluster::start(&program, &ClusterOptions::new(masters, 0, dir.clone())).await?;
    let shards = ShardCount::new(2 * masters).map_err(failed("choosing the shards"))?;
    let redis = connect_redis_target(&cluster.url(), Origin::Lab).await?;
    let queue = JobQueue::new(redis, crate::jobs::PREFIX).with_shards(shards);
    let mut variables = environment.to_vec();
    variables.push(("REDIS_URL", cluster.url()));
    variables.push(("LAB_JOB_SHARDS", shards.get().to_string()));
    let running = Workers::start(&plan.lab, RQ_WORKERS, plan.concurrency, &variables).await?;
    let started = Instant::now();
    submit_noops(&queue, plan.jobs).await?;
    drained(&queue).await?;
    let elapsed = started.elapsed();
    running.stop().await;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Throughput {
        workers: RQ_WORKERS,
        concurrency: plan.concurrency,
        jobs: plan.jobs,
        elapsed,
    })
}

/// Runs the measurements.
pub async fn run(
    config: &Config,
    plan: &JobsBenchPlan,
    say: &dyn Fn(&str),
) -> Result<JobsBenchReport, LabError> {
    let scratch = super::ScratchServer::start(config, say).await?;
    let client = scratch.client().await?;
    let stamp = bson::oid::ObjectId::new().to_hex();
    let database = client.database(&format!("bench_jobs_{}", &stamp[16..]));
    let redis_server = super::scratch_redis(config, say).await?;
    let redis = connect_redis(redis_server.url(), Origin::Lab).await?;
    let queue = JobQueue::new(redis, crate::jobs::PREFIX);
    let environment = [
        ("REDIS_URL", redis_server.url().to_owned()),
        ("MONGODB_URI", scratch.uri.clone()),
        ("MONGODB_DB", database.name().to_owned()),
        ("LAB_HOME", config.home.display().to_string()),
    ];
    let outcome = async {
        let mut throughput = Vec::new();
        for workers in WORKER_COUNTS {
            say(&format!(
                "{} no-op jobs with {workers} worker(s) of {} slots",
                plan.jobs, plan.concurrency
            ));
            let running =
                Workers::start(&plan.lab, workers, plan.concurrency, &environment).await?;
            let started = Instant::now();
            submit_noops(&queue, plan.jobs).await?;
            drained(&queue).await?;
            throughput.push(Throughput {
                workers,
                concurrency: plan.concurrency,
                jobs: plan.jobs,
                elapsed: started.elapsed(),
            });
            running.stop().await;
        }

        let mut cluster = Vec::new();
        for &masters in &plan.cluster_masters {
            say(&format!(
                "{} no-op jobs with {RQ_WORKERS} worker(s) on a Redis Cluster of {masters} master(s)",
                plan.jobs
            ));
            let run = on_cluster(config, plan, masters, &environment[1..], say).await?;
            cluster.push((masters, run));
        }

        say(&format!(
            "{} no-op jobs with {RQ_WORKERS} RQ workers",
            plan.jobs
        ));
        let rq = match Rq::ensure(config, say) {
            Ok(rq) => match rq.run(redis_server.url(), RQ_WORKERS, plan.jobs).await {
                Ok(run) => RqOutcome::Measured {
                    throughput: Throughput {
                        workers: RQ_WORKERS,
                        concurrency: 1,
                        jobs: plan.jobs,
                        elapsed: run.elapsed,
                    },
                    failed: run.failed,
                },
                Err(error) => RqOutcome::Skipped(error.to_string()),
            },
            Err(error) => RqOutcome::Skipped(error.to_string()),
        };

        say(&format!("pick-up latency of {} jobs", plan.samples));
        let running = Workers::start(&plan.lab, 2, plan.concurrency, &environment).await?;
        let mut latencies = Vec::new();
        for _ in 0..plan.samples {
            let (id, _) = queue
                .submit(&NewJob::new("noop", "{}"))
                .await
                .map_err(failed(QUEUE_FAILED))?;
            drained(&queue).await?;
            let events = queue
                .events(&id, None)
                .await
                .map_err(failed(QUEUE_FAILED))?;
            let at = |wanted: JobState| {
                events.iter().find_map(|event| match &event.data {
                    EventData::State { state, at_us, .. } if *state == wanted => Some(*at_us),
                    _ => None,
                })
            };
            if let (Some(queued), Some(claimed)) = (at(JobState::Queued), at(JobState::Running)) {
                latencies.push(Duration::from_micros(claimed.saturating_sub(queued)));
            }
        }
        let pickup = Phase::of(latencies, Duration::ZERO);
        running.stop().await;

        say(&format!(
            "Sidekiq's manner: {} no-op jobs submitted, then drained by one worker of {SIDEKIQ_CONCURRENCY} slots",
            plan.drain_jobs
        ));
        submit_noops(&queue, plan.drain_jobs).await?;
        let started = Instant::now();
        let running =
            Workers::start(&plan.lab, 1, SIDEKIQ_CONCURRENCY, &environment).await?;
        drained(&queue).await?;
        let sidekiq_style = Throughput {
            workers: 1,
            concurrency: SIDEKIQ_CONCURRENCY,
            jobs: plan.drain_jobs,
            elapsed: started.elapsed(),
        };

        say(&format!(
            "loading {} customers and {} invoices",
            plan.spec.customers, plan.spec.invoices
        ));
        dataset::seed(&database, plan.spec, Existing::Refuse, &mut |_| {}).await?;
        let (mut as_job, mut direct) = (Vec::new(), Vec::new());
        for round in 1..=plan.rounds.max(1) {
            say(&format!("revenue round {round} of {}", plan.rounds.max(1)));
            let started = Instant::now();
            let (id, _) = queue
                .submit(&NewJob::new("revenue_by_customer", "{}").attempts(1))
                .await
                .map_err(failed(QUEUE_FAILED))?;
            drained(&queue).await?;
            as_job.push(started.elapsed());
            let job = queue.get(&id).await.map_err(failed(QUEUE_FAILED))?;
            if job.as_ref().map(|job| job.state) != Some(JobState::Succeeded) {
                return Err(LabError::Disagreement {
                    what: format!("the revenue job did not succeed: {job:?}"),
                });
            }
            let started = Instant::now();
            revenue::by_customer(&database, None).await?;
            direct.push(started.elapsed());
        }
        running.stop().await;
        Ok(JobsBenchReport {
            server: scratch.label.clone(),
            machine: Machine::this(),
            throughput,
            rq,
            pickup,
            sidekiq_style,
            cluster,
            spec: plan.spec,
            as_job,
            direct,
        })
    }
    .await;
    let _ = database.drop().await;
    outcome
}
