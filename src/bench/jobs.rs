//! `lab bench jobs`: what the job system costs by itself, and what running
//! an analysis as a job costs next to running it directly.
//!
//! 1. Throughput of no-op jobs end to end (submit, claim, save the result
//!    in MongoDB, complete) with 1, 2 and 4 `lab worker` processes of one
//!    slot each, on a queue filled beforehand.
//! 2. Pick-up latency with idle workers: jobs submitted one at a time, the
//!    time from `queued` to `running` read from the job's event stream
//!    (both stamps from Redis's clock).
//! 3. Revenue by customer over a data set of the size asked for (1,000,000
//!    invoices by default), as a job (submit to succeeded, result saved)
//!    and as the same pipeline through the driver.
//!
//! Everything runs on scratch servers of its own: a fresh `redis-server`,
//! and a fresh embedded MongoDB unless `MONGODB_URI` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::{Phase, failed, io};
use crate::analysis::revenue;
use crate::config::Config;
use crate::control::LabError;
use crate::dataset::{self, Existing, SeedSpec};
use crate::jobs::{EventData, JobQueue, JobState, NewJob};
use crate::services::{Origin, connect_redis, process};

/// The worker counts measured.
pub const WORKER_COUNTS: [usize; 3] = [1, 2, 4];

/// Throughput with some number of workers.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Worker processes, one slot each.
    pub workers: usize,
    /// Jobs run.
    pub jobs: usize,
    /// From the first submission to the last completion.
    pub elapsed: Duration,
}

impl Throughput {
    /// Jobs per second.
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.elapsed.as_secs_f64()
    }
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct JobsBenchReport {
    /// Which MongoDB server answered.
    pub server: String,
    /// No-op throughput per worker count.
    pub throughput: Vec<Throughput>,
    /// Pick-up latency (queued to running) with idle workers.
    pub pickup: Phase,
    /// The data set of the revenue comparison.
    pub spec: SeedSpec,
    /// Each round of revenue by customer as a job.
    pub as_job: Vec<Duration>,
    /// Each round of the same pipeline through the driver.
    pub direct: Vec<Duration>,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct JobsBenchPlan {
    /// The `lab` program, run as the workers.
    pub lab: PathBuf,
    /// No-op jobs per throughput run.
    pub jobs: usize,
    /// Jobs whose pick-up is timed.
    pub samples: usize,
    /// The data set of the revenue comparison.
    pub spec: SeedSpec,
    /// Rounds of the revenue comparison.
    pub rounds: u32,
}

/// `count` `lab worker` processes with one slot each on the scratch
/// servers, answered on their status ports before this returns.
struct Workers(Vec<Child>);

impl Workers {
    async fn start(
        lab: &Path,
        count: usize,
        environment: &[(&str, String)],
    ) -> Result<Workers, LabError> {
        let mut children = Vec::new();
        for _ in 0..count {
            let port = process::free_port().map_err(io("finding a free port"))?;
            let child = Command::new(lab)
                .args(["worker", "--concurrency", "1", "--status-port"])
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
                if started.elapsed() > Duration::from_secs(30) {
                    return Err(LabError::Io {
                        context: "a lab worker did not start within 30 s".into(),
                        source: std::io::Error::other("no answer on its status port"),
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
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
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

/// Runs the three measurements.
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
                "{} no-op jobs with {workers} worker(s)",
                plan.jobs
            ));
            let running = Workers::start(&plan.lab, workers, &environment).await?;
            let started = Instant::now();
            for _ in 0..plan.jobs {
                queue
                    .submit(&NewJob::new("noop", "{}"))
                    .await
                    .map_err(failed(QUEUE_FAILED))?;
            }
            drained(&queue).await?;
            throughput.push(Throughput {
                workers,
                jobs: plan.jobs,
                elapsed: started.elapsed(),
            });
            running.stop().await;
        }

        say(&format!("pick-up latency of {} jobs", plan.samples));
        let running = Workers::start(&plan.lab, 2, &environment).await?;
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
            throughput,
            pickup,
            spec: plan.spec,
            as_job,
            direct,
        })
    }
    .await;
    let _ = database.drop().await;
    outcome
}
