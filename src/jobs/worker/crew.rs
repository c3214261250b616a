//! What the jobs of one worker share: the leases it holds, renewed
//! together, and the finisher, which saves results and completes jobs in
//! batches.
//!
//! A job's run ([`Crew::execute`]) registers its claim, runs the analysis on
//! a task of its own, and hands a result to the finisher. The finisher
//! takes whatever results are waiting when it gets to them (never waiting
//! for more, so a lone job is finished at once) and makes three round
//! trips for the lot: the results saved in one MongoDB command, the jobs
//! completed in one script per shard, the completed runs' results marked
//! in one more command. Fencing is as for one job: a result is saved under
//! its run's token before the completion is tried, and only the runs whose
//! completion the script accepted are marked.
//!
//! One task renews every lease the worker holds, every third of the lease,
//! with one script per shard, and stops the runs whose claims were lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mongodb::Database;
use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc, oneshot, watch};

use super::{Recovery, Step, StepError, WorkerOptions, analyse, fail};
use crate::jobs::JobId;
use crate::jobs::queue::{Claim, JobQueue};
use crate::jobs::results;
use crate::services::is_outage;

/// The most results the finisher handles in one batch.
pub const MOST_PER_BATCH: usize = 256;

/// The leases held, by job id and token (a process may claim a job again
/// after losing it, under a new token), each with the signal that stops
/// its run.
type Held = HashMap<(JobId, u64), (Claim, Arc<Notify>)>;

/// A result waiting for the finisher, with the slot its job holds (freed
/// once the batch is done) and where to say how it went.
struct Finished {
    claim: Claim,
    result: Value,
    slot: OwnedSemaphorePermit,
    reply: oneshot::Sender<Result<bool, StepError>>,
}

/// The shared side of a worker's runs; cheap to clone. The heartbeat task
/// stops when the last clone is dropped, the finisher once it has finished
/// what it was given.
#[derive(Clone)]
pub(super) struct Crew {
    queue: JobQueue,
    database: Database,
    options: WorkerOptions,
    held: Arc<Mutex<Held>>,
    finisher: mpsc::UnboundedSender<Finished>,
    outages: Arc<AtomicUsize>,
    _heartbeats: Arc<super::AbortOnDrop>,
}

impl Crew {
    /// The database the results go to.
    pub(super) fn database(&self) -> &Database {
        &self.database
    }

    /// Starts the heartbeat and finisher tasks of a worker.
    pub(super) fn start(queue: JobQueue, database: Database, options: WorkerOptions) -> Crew {
        let held = Arc::new(Mutex::new(Held::new()));
        let outages = Arc::new(AtomicUsize::new(0));
        let heartbeats = tokio::spawn(heartbeats(
            queue.clone(),
            options.lease,
            held.clone(),
            outages.clone(),
        ));
        let (finisher, inbox) = mpsc::unbounded_channel();
        tokio::spawn(finish_batches(queue.clone(), database.clone(), inbox));
        Crew {
            queue,
            database,
            options,
            held,
            finisher,
            outages,
            _heartbeats: Arc::new(super::AbortOnDrop(heartbeats.abort_handle())),
        }
    }

    /// Times the heartbeat task could not reach Redis.
    pub(super) fn outages(&self) -> usize {
        self.outages.load(Ordering::Relaxed)
    }

    /// Runs `claim`'s job, holding `slot` until it is over: the analysis on
    /// a task of its own (a panic fails that job only), progress recorded
    /// as it comes, the result handed to the finisher. Stops when the claim
    /// is lost (a heartbeat or a progress report refused) or, handing the
    /// job back, when the worker stops.
    pub(super) async fn execute(
        &self,
        claim: Claim,
        slot: OwnedSemaphorePermit,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Step, StepError> {
        let lost = Arc::new(Notify::new());
        let _holding = Holding::new(&self.held, &claim, lost.clone());
        let (progress, mut reports) = mpsc::unbounded_channel();
        let mut task = tokio::spawn(analyse(
            self.database.clone(),
            claim.clone(),
            self.options.drills,
            progress,
        ));
        // However this function ends (Redis failing included), the run stops.
        let _stop_run = super::AbortOnDrop(task.abort_handle());
        let queue = &self.queue;
        // Once Redis has refused a progress report, the run's other reports
        // are dropped rather than each wait for Redis in turn.
        let mut reporting = true;
        loop {
            tokio::select! {
                Some(report) = reports.recv() => {
                    // Progress is news, not state: a report Redis could not
                    // take is skipped, and the run goes on (the heartbeats
                    // tell whether the claim still holds).
                    if !reporting {
                        continue;
                    }
                    match queue.progress(&claim, &report).await {
                        Ok(true) => {}
                        Ok(false) => return Ok(Step::Fenced(claim.id)),
                        Err(error) => {
                            tracing::warn!("cannot record progress, the run goes on: {error}");
                            reporting = false;
                        }
                    }
                }
                finished = &mut task => {
                    // Reports sent just before the end are recorded first.
                    while let Ok(report) = reports.try_recv() {
                        if reporting && queue.progress(&claim, &report).await.is_err() {
                            reporting = false;
                        }
                    }
                    return match finished {
                        Ok(Ok(result)) => match self.finish(claim.clone(), result, slot).await {
                            // Saving the result found MongoDB down: the job
                            // runs again once it is back.
                            Err(StepError::Results(error)) if is_outage(&error) => {
                                let error = StepError::Results(error).to_string();
                                fail(queue, &claim, &error, Recovery::WaitOut).await
                            }
                            finished => finished,
                        },
                        Ok(Err(failure)) => {
                            fail(queue, &claim, &failure.message, failure.recovery).await
                        }
                        Err(error) => {
                            let message = if error.is_panic() {
                                "the analysis panicked; this is a bug in the lab".to_owned()
                            } else {
                                format!("the analysis stopped: {error}")
                            };
                            fail(queue, &claim, &message, Recovery::Retry).await
                        }
                    };
                }
                () = lost.notified() => return Ok(Step::Fenced(claim.id)),
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

    /// Hands `result` to the finisher and waits for its batch: succeeded,
    /// or fenced when the claim no longer held the job.
    async fn finish(
        &self,
        claim: Claim,
        result: Value,
        slot: OwnedSemaphorePermit,
    ) -> Result<Step, StepError> {
        let (reply, answer) = oneshot::channel();
        let id = claim.id.clone();
        let finished = Finished {
            claim,
            result,
            slot,
            reply,
        };
        // The finisher lives as long as any crew, this one included, so
        // neither the sending nor the answer fails; if it ever did, the
        // job's lease would run out and the job run again.
        let completed = match self.finisher.send(finished) {
            Ok(()) => answer.await.unwrap_or(Ok(false))?,
            Err(_) => false,
        };
        Ok(if completed {
            Step::Succeeded(id)
        } else {
            Step::Fenced(id)
        })
    }
}

/// A claim registered in [`Held`] for as long as its run lasts.
struct Holding<'a> {
    held: &'a Mutex<Held>,
    key: (JobId, u64),
}

impl<'a> Holding<'a> {
    fn new(held: &'a Mutex<Held>, claim: &Claim, lost: Arc<Notify>) -> Holding<'a> {
        let key = (claim.id.clone(), claim.token);
        lock(held).insert(key.clone(), (claim.clone(), lost));
        Holding { held, key }
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        lock(self.held).remove(&self.key);
    }
}

/// The held leases; a run that panicked while holding the lock left the
/// map whole (every change is one insert or remove), so the lock is taken
/// anyway.
fn lock(held: &Mutex<Held>) -> MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Renews every held lease each third of `lease`; a run whose claim was
/// lost is told to stop. A failed renewal is tried again at the next turn
/// (the lease outlasts two of them).
async fn heartbeats(
    queue: JobQueue,
    lease: Duration,
    held: Arc<Mutex<Held>>,
    outages: Arc<AtomicUsize>,
) {
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (claims, signals): (Vec<Claim>, Vec<Arc<Notify>>) =
            lock(&held).values().cloned().unzip();
        if claims.is_empty() {
            continue;
        }
        match queue.heartbeat_many(&claims, lease).await {
            Ok(kept) => {
                for (kept, lost) in kept.into_iter().zip(signals) {
                    if !kept {
                        lost.notify_one();
                    }
                }
            }
            Err(error) => {
                outages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("cannot renew the leases: {error}; trying again");
            }
        }
    }
}

/// Finishes what arrives in `inbox`, in batches of whatever is waiting,
/// until every crew is gone and the inbox is empty.
async fn finish_batches(
    queue: JobQueue,
    database: Database,
    mut inbox: mpsc::UnboundedReceiver<Finished>,
) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_BATCH {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let outcome = finish(&queue, &database, &batch).await;
        // The slots are freed together, so the worker claims their number
        // of jobs in one go.
        let mut replies = Vec::with_capacity(batch.len());
        let mut slots: Option<OwnedSemaphorePermit> = None;
        for finished in batch {
            match &mut slots {
                Some(slots) => slots.merge(finished.slot),
                None => slots = Some(finished.slot),
            }
            replies.push(finished.reply);
        }
        drop(slots);
        for (at, reply) in replies.into_iter().enumerate() {
            let answer = match &outcome {
                Ok(completed) => Ok(completed[at]),
                Err(error) => Err(error.clone()),
            };
            // A run that stopped waiting has nothing left to do.
            let _ = reply.send(answer);
        }
    }
}

/// Saves the batch's results, completes its jobs, marks the completed
/// runs' results: for each, whether its claim completed the job.
async fn finish(
    queue: &JobQueue,
    database: &Database,
    batch: &[Finished],
) -> Result<Vec<bool>, StepError> {
    let runs: Vec<(&Claim, &Value)> = batch
        .iter()
        .map(|finished| (&finished.claim, &finished.result))
        .collect();
    results::save_many(database, &runs).await?;
    let claims: Vec<Claim> = batch
        .iter()
        .map(|finished| finished.claim.clone())
        .collect();
    let completed = queue.complete_many(&claims).await?;
    let marked: Vec<&Claim> = claims
        .iter()
        .zip(&completed)
        .filter_map(|(claim, &done)| done.then_some(claim))
        .collect();
    // The jobs are completed whatever happens here: a result left unmarked
    // is still the one shown, and a worker's reconciliation marks it.
    if let Err(error) = results::mark_completed_many(database, &marked).await {
        tracing::warn!(
            "cannot mark {} completed results yet: {error}",
            marked.len()
        );
    }
    Ok(completed)
}
