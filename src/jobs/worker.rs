//! Workers: claim a job, run its analysis while keeping the lease alive,
//! save the result, complete. [`run`] keeps several jobs going at once on
//! tokio, takes back the leases of dead workers, and on shutdown hands the
//! jobs it holds back to the queue.

use std::time::Duration;

use mongodb::Database;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

use super::events::Changes;
use super::kinds::{Job, ProgressSender};
use super::queue::{Claim, FailOutcome, JobQueue};
use super::{results, webhooks};
use crate::analysis::AnalysisError;

/// The base and the cap of the retry backoff.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// See [`BACKOFF_BASE`].
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What one job's run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No job was ready.
    Idle,
    /// The job succeeded and its result is the one shown.
    Succeeded(String),
    /// The job's claim was taken away meanwhile (lease lost, or cancelled);
    /// its result is not shown.
    Fenced(String),
    /// The job failed; it may be retried (see the outcome).
    Failed(String, FailOutcome),
    /// The worker was stopping and gave the job back to the queue.
    HandedBack(String),
}

/// The queue or the database could not be reached for the worker's own
/// bookkeeping (a failing analysis is a [`Step::Failed`], not this).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Redis.
    #[error("the job queue is unavailable: {0}")]
    Queue(#[from] redis::RedisError),
    /// MongoDB, while saving a result.
    #[error("the result could not be saved: {0}")]
    Results(#[from] mongodb::error::Error),
}

/// How a worker runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat; heartbeats come every
    /// third of it.
    pub lease: Duration,
    /// How long an idle slot waits before looking for work again.
    pub poll: Duration,
    /// Whether drill jobs ([`Drill`](super::kinds::Drill)) run; refused otherwise.
    pub drills: bool,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            concurrency: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            drills: false,
        }
    }
}

/// What a worker did before it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs that succeeded.
    pub succeeded: usize,
    /// Jobs that failed (for now or for good).
    pub failed: usize,
    /// Runs whose claim was taken away.
    pub fenced: usize,
    /// Jobs handed back at shutdown.
    pub handed_back: usize,
    /// Times a slot could not reach Redis or MongoDB and waited to try again.
    pub outages: usize,
}

impl WorkerReport {
    fn add(&mut self, other: &WorkerReport) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.fenced += other.fenced;
        self.handed_back += other.handed_back;
        self.outages += other.outages;
    }
}

/// How long a slot waits after Redis or MongoDB failed it, at most.
pub const OUTAGE_PAUSE_CAP: Duration = Duration::from_secs(5);

/// Claims one job and runs it to the end (no shutdown to watch), with
/// `options.lease`; drills run only if `options.drills`.
pub async fn step(
    queue: &JobQueue,
    database: &Database,
    options: &WorkerOptions,
) -> Result<Step, StepError> {
    let (_keep, never) = watch::channel(false);
    match queue.claim(options.lease).await? {
        None => Ok(Step::Idle),
        Some(claim) => execute(queue, database, claim, options, never).await,
    }
}

/// Runs a worker with `options.concurrency` slots until `shutdown` turns
/// true, then hands back the jobs it holds and returns what it did. A slot
/// that cannot reach Redis or MongoDB waits (doubling up to
/// [`OUTAGE_PAUSE_CAP`]) and tries again; a job it held meanwhile comes
/// back when its lease runs out.
pub async fn run(
    queue: JobQueue,
    database: Database,
    options: WorkerOptions,
    shutdown: watch::Receiver<bool>,
) -> WorkerReport {
    run_woken(queue, database, options, shutdown, Changes::polling()).await
}

/// [`run`], with idle slots woken as soon as `ready` (from
/// [`Changes::listen_ready`]) hears of a queued job instead of at their
/// next poll.
pub async fn run_woken(
    queue: JobQueue,
    database: Database,
    options: WorkerOptions,
    shutdown: watch::Receiver<bool>,
    ready: Changes,
) -> WorkerReport {
    // Without the index the worker still works, only slower.
    if let Err(error) = results::ensure_indexes(&database).await {
        tracing::warn!("cannot create the index of job results: {error}");
    }
    let mut slots = JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (queue, database, shutdown) = (queue.clone(), database.clone(), shutdown.clone());
        slots.spawn(slot(queue, database, options, shutdown, ready.subscribe()));
    }
    slots.spawn(deliverer(queue, options, shutdown));
    let mut total = WorkerReport::default();
    while let Some(report) = slots.join_next().await {
        match report {
            Ok(report) => total.add(&report),
            // A slot only ends by returning; a panic in it is a bug here,
            // and the other slots carry on.
            Err(error) => tracing::error!("a worker slot stopped: {error}"),
        }
    }
    total
}

async fn slot(
    queue: JobQueue,
    database: Database,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
    mut ready: broadcast::Receiver<String>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut pause = options.poll;
    while !*shutdown.borrow() {
        let step = match queue.claim(options.lease).await {
            Ok(Some(claim)) => execute(&queue, &database, claim, &options, shutdown.clone()).await,
            Ok(None) => Ok(Step::Idle),
            Err(error) => Err(StepError::from(error)),
        };
        let wait = match step {
            Ok(Step::Idle) => {
                // Dead workers' leases are taken back by whoever is idle.
                match queue.reap().await {
                    Ok(0) => {
                        tokio::select! {
                            () = tokio::time::sleep(options.poll) => {}
                            _ = shutdown.changed() => {}
                            _ = ready.recv() => {}
                        }
                        None
                    }
                    Ok(_) => None,
                    Err(error) => outage(&mut report, &mut pause, &StepError::from(error)),
                }
            }
            Ok(step) => {
                pause = options.poll;
                match step {
                    Step::Succeeded(_) => report.succeeded += 1,
                    Step::Failed(..) => report.failed += 1,
                    Step::Fenced(_) => report.fenced += 1,
                    Step::HandedBack(_) => report.handed_back += 1,
                    Step::Idle => {}
                }
                None
            }
            Err(error) => outage(&mut report, &mut pause, &error),
        };
        if let Some(wait) = wait {
            sleep_unless_stopped(wait, &mut shutdown).await;
        }
    }
    report
}

/// Calls the webhooks of finished jobs, one at a time.
async fn deliverer(
    queue: JobQueue,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut pause = options.poll;
    while !*shutdown.borrow() {
        let wait = match webhooks::deliver_one(&queue).await {
            Ok(true) => {
                pause = options.poll;
                None
            }
            Ok(false) => Some(options.poll),
            Err(error) => outage(&mut report, &mut pause, &StepError::from(error)),
        };
        if let Some(wait) = wait {
            sleep_unless_stopped(wait, &mut shutdown).await;
        }
    }
    report
}

async fn sleep_unless_stopped(wait: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        _ = shutdown.changed() => {}
    }
}

fn outage(report: &mut WorkerReport, pause: &mut Duration, error: &StepError) -> Option<Duration> {
    report.outages += 1;
    *pause = (*pause * 2).min(OUTAGE_PAUSE_CAP);
    tracing::warn!("{error}; trying again in {:?}", *pause);
    Some(*pause)
}

/// Why an analysis did not produce a result.
struct RunFailure {
    message: String,
    retryable: bool,
}

async fn analyse(
    database: Database,
    claim: Claim,
    drills: bool,
    progress: ProgressSender,
) -> Result<Value, RunFailure> {
    let params: Value = serde_json::from_str(&claim.params).unwrap_or(Value::Null);
    let job = Job::parse(&claim.kind, &params, drills).map_err(|error| RunFailure {
        message: error.to_string(),
        retryable: false,
    })?;
    job.run(&database, &progress)
        .await
        .map_err(|error| RunFailure {
            retryable: !matches!(error, AnalysisError::InvalidParameter { .. }),
            message: error.to_string(),
        })
}

/// Runs `claim`'s job on a task of its own (a panic fails that job only),
/// renewing the lease; stops when the claim is lost or the worker stops.
async fn execute(
    queue: &JobQueue,
    database: &Database,
    claim: Claim,
    options: &WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Step, StepError> {
    let lease = options.lease;
    let (progress, mut reports) = mpsc::unbounded_channel();
    let mut task = tokio::spawn(analyse(
        database.clone(),
        claim.clone(),
        options.drills,
        progress,
    ));
    // However this function ends (Redis failing included), the run stops.
    let _stop_run = AbortOnDrop(task.abort_handle());
    let mut heartbeat = tokio::time::interval((lease / 3).max(Duration::from_millis(1)));
    heartbeat.tick().await;
    loop {
        tokio::select! {
            Some(report) = reports.recv() => {
                if !queue.progress(&claim, &report).await? {
                    return Ok(Step::Fenced(claim.id));
                }
            }
            finished = &mut task => {
                // Reports sent just before the end are recorded first.
                while let Ok(report) = reports.try_recv() {
                    queue.progress(&claim, &report).await?;
                }
                return match finished {
                    Ok(Ok(result)) => {
                        results::save(database, &claim, &result).await?;
                        if queue.complete(&claim).await? {
                            results::mark_completed(database, &claim).await?;
                            Ok(Step::Succeeded(claim.id))
                        } else {
                            Ok(Step::Fenced(claim.id))
                        }
                    }
                    Ok(Err(failure)) => fail(queue, &claim, &failure.message, failure.retryable).await,
                    Err(error) => {
                        let message = if error.is_panic() {
                            "the analysis panicked; this is a bug in the lab".to_owned()
                        } else {
                            format!("the analysis stopped: {error}")
                        };
                        fail(queue, &claim, &message, true).await
                    }
                };
            }
            _ = heartbeat.tick() => {
                if !queue.heartbeat(&claim, lease).await? {
                    return Ok(Step::Fenced(claim.id));
                }
            }
            _ = shutdown.changed() => {
                return if queue.release(&claim).await? {
                    Ok(Step::HandedBack(claim.id))
                } else {
                    Ok(Step::Fenced(claim.id))
                };
            }
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fail(
    queue: &JobQueue,
    claim: &Claim,
    error: &str,
    retryable: bool,
) -> Result<Step, StepError> {
    let backoff = super::backoff(claim.attempt, BACKOFF_BASE, BACKOFF_CAP);
    let outcome = queue.fail(claim, error, retryable, backoff).await?;
    Ok(Step::Failed(claim.id.clone(), outcome))
}
