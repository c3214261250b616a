//! Workers: claim jobs, run their analyses while keeping the leases alive,
//! save the results, complete. [`run`] keeps several jobs going at once on
//! tokio, claiming and finishing them in batches (the `crew` module), takes back the
//! leases of dead workers, and on shutdown hands the jobs it holds back to
//! the queue.

mod crew;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::Database;
use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinSet;

use self::crew::Crew;
use super::events::Changes;
use super::id::JobId;
use super::kinds::ProgressSender;
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
    Succeeded(JobId),
    /// The job's claim was taken away meanwhile (lease lost, or cancelled);
    /// its result is not shown.
    Fenced(JobId),
    /// The job failed; it may be retried (see the outcome).
    Failed(JobId, FailOutcome),
    /// The worker was stopping and gave the job back to the queue.
    HandedBack(JobId),
}

/// The queue or the database could not be reached for the worker's own
/// bookkeeping (a failing analysis is a [`Step::Failed`], not this).
#[derive(Debug, Clone, thiserror::Error)]
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
    /// How long an idle worker waits before looking for work again when
    /// no wake-up comes (and how often, at most, it reaps lost leases).
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
    // A fresh semaphore of one always has its permit.
    let Ok(slot) = Arc::new(Semaphore::new(1)).try_acquire_owned() else {
        return Ok(Step::Idle);
    };
    let Some(claim) = queue.claim(options.lease).await? else {
        return Ok(Step::Idle);
    };
    let (_keep, never) = watch::channel(false);
    Crew::start(queue.clone(), database.clone(), *options)
        .execute(claim, slot, never)
        .await
}

/// Runs a worker with `options.concurrency` slots until `shutdown` turns
/// true, then hands back the jobs it holds and returns what it did. When
/// Redis or MongoDB cannot be reached the worker waits (doubling up to
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

/// [`run`], with an idle worker woken as soon as `ready` (from
/// [`Changes::listen_ready`]) hears of a queued job instead of at its next
/// poll.
///
/// The worker claims as many jobs as it has free slots in one round trip
/// ([`JobQueue::claim_many`]), runs each on a task of its own, and finishes
/// them in batches (see the `crew` module): a busy worker makes a few round trips
/// per batch of jobs rather than several per job, and an idle one picks up
/// a lone job as soon as it hears of it.
pub async fn run_woken(
    queue: JobQueue,
    database: Database,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
    ready: Changes,
) -> WorkerReport {
    // Without the index the worker still works, only slower.
    if let Err(error) = results::ensure_indexes(&database).await {
        tracing::warn!("cannot create the index of job results: {error}");
    }
    let deliveries = tokio::spawn(deliverer(queue.clone(), options, shutdown.clone()));
    let crew = Crew::start(queue.clone(), database, options);
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    // `ready` stays alive while the worker runs: its sender is in it.
    let mut heard = ready.subscribe();
    let mut runs = JoinSet::new();
    let mut report = WorkerReport::default();
    let mut pause = options.poll;
    let mut last_reap: Option<Instant> = None;
    while !*shutdown.borrow() {
        let mut failing = ended(&mut runs, &mut report);
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                // A slot came free (it is given back at once, to be taken
                // with the others that came free with it).
                _ = slots.clone().acquire_owned() => {}
                Some(run) = runs.join_next() => failing |= record(run, &mut report),
                _ = shutdown.changed() => {}
            }
        } else {
            // What was heard so far is answered by this claim.
            while matches!(
                heard.try_recv(),
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_))
            ) {}
            match claim(&queue, &crew, &slots, free, &mut runs, &shutdown, &options).await {
                Ok(true) => pause = options.poll,
                Ok(false) => {
                    // Dead workers' leases are taken back by whoever is
                    // idle, once per poll at most.
                    let reaped = if last_reap.is_none_or(|at| at.elapsed() >= options.poll) {
                        last_reap = Some(Instant::now());
                        // And results a dead worker completed but did not mark.
                        match results::reconcile(crew.database(), &queue).await {
                            Ok(0) => {}
                            Ok(marked) => tracing::info!("marked {marked} results left unmarked"),
                            Err(error) => failing |= outage(&mut report, &error),
                        }
                        queue.reap().await.map_err(StepError::from)
                    } else {
                        Ok(0)
                    };
                    match reaped {
                        Ok(0) => tokio::select! {
                            () = tokio::time::sleep(options.poll) => {}
                            _ = shutdown.changed() => {}
                            _ = heard.recv() => {}
                            Some(run) = runs.join_next() => failing |= record(run, &mut report),
                        },
                        Ok(_) => {}
                        Err(error) => failing |= outage(&mut report, &error),
                    }
                }
                Err(error) => failing |= outage(&mut report, &error),
            }
        }
        if failing {
            pause = (pause * 2).min(OUTAGE_PAUSE_CAP);
            tracing::warn!("trying again in {pause:?}");
            sleep_unless_stopped(pause, &mut shutdown).await;
        }
    }
    // The runs see the shutdown too: each hands its job back, or finishes
    // it if its result is already with the finisher.
    while let Some(run) = runs.join_next().await {
        record(run, &mut report);
    }
    report.outages += crew.outages();
    match deliveries.await {
        Ok(deliveries) => report.add(&deliveries),
        Err(error) => tracing::error!("the webhook deliverer stopped: {error}"),
    }
    report
}

/// Claims up to `free` jobs and starts their runs; `false` when none was
/// ready.
async fn claim(
    queue: &JobQueue,
    crew: &Crew,
    slots: &Arc<Semaphore>,
    free: usize,
    runs: &mut JoinSet<Result<Step, StepError>>,
    shutdown: &watch::Receiver<bool>,
    options: &WorkerOptions,
) -> Result<bool, StepError> {
    // Only this loop takes slots, so the free ones are still free.
    let Ok(mut taken) = slots.clone().try_acquire_many_owned(free as u32) else {
        return Ok(true);
    };
    let claims = queue.claim_many(options.lease, free).await?;
    for claim in &claims {
        if let Some(slot) = taken.split(1) {
            let (crew, shutdown) = (crew.clone(), shutdown.clone());
            let claim = claim.clone();
            runs.spawn(async move { crew.execute(claim, slot, shutdown).await });
        }
    }
    Ok(!claims.is_empty())
}

/// Records the runs that are over; `true` if one could not reach Redis or
/// MongoDB.
fn ended(runs: &mut JoinSet<Result<Step, StepError>>, report: &mut WorkerReport) -> bool {
    let mut failing = false;
    while let Some(run) = runs.try_join_next() {
        failing |= record(run, report);
    }
    failing
}

/// Counts what a run came to; `true` if it could not reach Redis or
/// MongoDB.
fn record(
    run: Result<Result<Step, StepError>, tokio::task::JoinError>,
    report: &mut WorkerReport,
) -> bool {
    match run {
        Ok(Ok(step)) => {
            match step {
                Step::Succeeded(_) => report.succeeded += 1,
                Step::Failed(..) => report.failed += 1,
                Step::Fenced(_) => report.fenced += 1,
                Step::HandedBack(_) => report.handed_back += 1,
                Step::Idle => {}
            }
            false
        }
        Ok(Err(error)) => outage(report, &error),
        // A run only ends by returning (the analysis's panic is caught
        // inside it); a panic here is a bug, and the other runs carry on.
        Err(error) => {
            tracing::error!("a job's run stopped: {error}");
            false
        }
    }
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
            Err(error) => {
                outage(&mut report, &StepError::from(error));
                pause = (pause * 2).min(OUTAGE_PAUSE_CAP);
                Some(pause)
            }
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

/// Counts an outage and logs it; always `true` (the caller pauses).
fn outage(report: &mut WorkerReport, error: &StepError) -> bool {
    report.outages += 1;
    tracing::warn!("{error}");
    true
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
    let job = claim.job(drills).map_err(|error| RunFailure {
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
