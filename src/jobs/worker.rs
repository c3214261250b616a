//! Workers: claim jobs, run their analyses while keeping the leases alive,
//! save the results, complete. [`run`] keeps several jobs going at once on
//! tokio, claiming and finishing them in batches (the `crew` module), takes back the
//! leases of dead workers, and on shutdown hands the jobs it holds back to
//! the queue.

mod crew;

use std::sync::Arc;
use std::time::Duration;

use mongodb::Database;
use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::crew::Crew;
use super::events::Changes;
use super::id::JobId;
use super::kinds::ProgressSender;
use super::queue::{Claim, FailOutcome, JobQueue};
use super::{results, webhooks};
use crate::analysis::AnalysisError;
use crate::services::clients::first_line;
use crate::services::is_outage;

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
    /// MongoDB could not be reached; the job was given back to run again
    /// once the outage is over, the attempt not counted.
    Postponed(JobId),
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
    /// Jobs given back because MongoDB could not be reached, to run again
    /// later without using an attempt.
    pub postponed: usize,
    /// Times a slot could not reach Redis or MongoDB and waited to try again.
    pub outages: usize,
}

impl WorkerReport {
    fn add(&mut self, other: &WorkerReport) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.fenced += other.fenced;
        self.handed_back += other.handed_back;
        self.postponed += other.postponed;
        self.outages += other.outages;
    }
}

/// How long a slot waits after Redis or MongoDB failed it, at most.
pub const OUTAGE_PAUSE_CAP: Duration = Duration::from_secs(5);

/// How long a job given back for a MongoDB outage waits before it can be
/// claimed again.
pub const POSTPONED_FOR: Duration = Duration::from_secs(5);

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
/// [`OUTAGE_PAUSE_CAP`]) and tries again. A job whose run found MongoDB
/// unreachable is given back to wait [`POSTPONED_FOR`] (its attempt not
/// counted); one whose run lost Redis comes back when its lease runs out.
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
    // When the current outage began, for the log line that says it ended.
    let mut failing_since: Option<Instant> = None;
    // Dead workers' leases are taken back by an idle worker once per poll,
    // and by a busy one (which never finds the queue empty) once per third
    // of a lease: a backlog does not hold up their recovery.
    let busy_upkeep = (options.lease / 3).max(options.poll);
    let mut last_reap = Instant::now()
        .checked_sub(busy_upkeep)
        .unwrap_or_else(Instant::now);
    while !*shutdown.borrow() {
        // Whether this round heard Redis answer a claim.
        let mut queue_answered = false;
        let mut failing = ended(&mut runs, &mut report);
        if last_reap.elapsed() >= busy_upkeep {
            last_reap = Instant::now();
            failing |= upkeep(&queue, &crew, &mut report).await.is_err();
        }
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                // A slot came free (it is given back at once, to be taken
                // with the others that came free with it).
                _ = slots.clone().acquire_owned() => {}
                Some(run) = runs.join_next() => failing |= record(run, &mut report),
                _ = shutdown.changed() => {}
                () = tokio::time::sleep_until(last_reap + busy_upkeep) => {}
            }
        } else {
            // What was heard so far is answered by this claim.
            while matches!(
                heard.try_recv(),
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_))
            ) {}
            let claimed = claim(&queue, &crew, &slots, free, &mut runs, &shutdown, &options).await;
            queue_answered = claimed.is_ok();
            match claimed {
                Ok(true) => pause = options.poll,
                Ok(false) => {
                    let reaped = if last_reap.elapsed() >= options.poll {
                        last_reap = Instant::now();
                        upkeep(&queue, &crew, &mut report).await
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
                        Err(()) => failing = true,
                    }
                }
                Err(error) => failing |= outage(&mut report, &error),
            }
        }
        if failing {
            failing_since.get_or_insert_with(Instant::now);
            pause = (pause * 2).min(OUTAGE_PAUSE_CAP);
            tracing::warn!("trying again in {pause:?}");
            sleep_unless_stopped(pause, &mut shutdown).await;
        } else if queue_answered && let Some(since) = failing_since.take() {
            // Redis answered; a MongoDB still down shows again in the runs.
            tracing::info!(
                "the job queue answers again; taking jobs (the failures began {:.1} s ago)",
                since.elapsed().as_secs_f64()
            );
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

/// Takes back the leases of dead workers, and marks the results they
/// completed but did not mark; how many leases were taken back, `Err` (the
/// outage counted and logged) when Redis or MongoDB failed.
async fn upkeep(queue: &JobQueue, crew: &Crew, report: &mut WorkerReport) -> Result<u64, ()> {
    // Leases first: they need only Redis, and must not wait on a MongoDB
    // that is down.
    let reaped = match queue.reap().await {
        Ok(reaped) => reaped,
        Err(error) => {
            outage(report, &StepError::from(error));
            return Err(());
        }
    };
    match results::reconcile(crew.database(), queue).await {
        Ok(0) => {}
        Ok(marked) => tracing::info!("marked {marked} results left unmarked"),
        Err(error) => {
            outage(report, &error);
            return Err(());
        }
    }
    Ok(reaped)
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
                Step::Postponed(_) => {
                    // The worker waits as for any outage before claiming more.
                    report.postponed += 1;
                    return true;
                }
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
    recovery: Recovery,
}

/// What becomes of a job whose run did not produce a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// It fails for good: running it again would fail the same way.
    Fail,
    /// It is tried again after a backoff, if it has attempts left.
    Retry,
    /// MongoDB could not be reached: it runs again once the outage is
    /// over, the attempt not counted.
    WaitOut,
}

async fn analyse(
    database: Database,
    claim: Claim,
    drills: bool,
    progress: ProgressSender,
) -> Result<Value, RunFailure> {
    let job = claim.job(drills).map_err(|error| RunFailure {
        message: error.to_string(),
        recovery: Recovery::Fail,
    })?;
    let error = match job.run(&database, &progress).await {
        Ok(result) => return Ok(result),
        Err(error) => error,
    };
    let recovery = match &error {
        AnalysisError::InvalidParameter { .. } => Recovery::Fail,
        // An outage only if MongoDB does not answer a ping either: an
        // analysis whose own command keeps failing that way while the
        // server is up would otherwise wait for ever.
        AnalysisError::Database { source, .. }
            if is_outage(source) && !answers(&database).await =>
        {
            Recovery::WaitOut
        }
        AnalysisError::Database { .. } => Recovery::Retry,
    };
    // The message is the job's `error`, which anyone who may read the job
    // sees, and its webhook's receiver: the driver's error in one line,
    // without its description of the servers.
    let message = match &error {
        AnalysisError::Database { report, source } => {
            format!("the {report} report failed: {}", first_line(source))
        }
        AnalysisError::InvalidParameter { .. } => error.to_string(),
    };
    Err(RunFailure { recovery, message })
}

/// Whether `database`'s server answers a ping within two seconds.
async fn answers(database: &Database) -> bool {
    let ping = database.run_command(bson::doc! { "ping": 1 });
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ping).await,
        Ok(Ok(_))
    )
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ends `claim`'s run without a result, as `recovery` says, `error` being
/// what went wrong.
async fn fail(
    queue: &JobQueue,
    claim: &Claim,
    error: &str,
    recovery: Recovery,
) -> Result<Step, StepError> {
    if recovery == Recovery::WaitOut {
        let note = format!(
            "{error}; MongoDB could not be reached, so the job waits to run again \
             (this attempt is not counted)"
        );
        return Ok(if queue.postpone(claim, &note, POSTPONED_FOR).await? {
            Step::Postponed(claim.id.clone())
        } else {
            Step::Fenced(claim.id.clone())
        });
    }
    let backoff = super::backoff(claim.attempt, BACKOFF_BASE, BACKOFF_CAP);
    let outcome = queue
        .fail(claim, error, recovery == Recovery::Retry, backoff)
        .await?;
    let (id, attempt) = (&claim.id, claim.attempt);
    match outcome {
        FailOutcome::WillRetry => tracing::warn!(
            "job {id} (attempt {attempt}) failed: {error}; it runs again in {backoff:?}"
        ),
        FailOutcome::Failed => {
            tracing::warn!("job {id} (attempt {attempt}) failed for good: {error}")
        }
        // Another worker holds the job now; its outcome is that worker's.
        FailOutcome::Fenced => {}
    }
    Ok(Step::Failed(claim.id.clone(), outcome))
}
