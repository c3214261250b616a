//! `lab worker` and `lab jobs ...`: run a worker, submit jobs and watch them
//! in the terminal, list, cancel, inspect and requeue dead letters. The
//! work is done in `lab::jobs`.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lab::Config;
use lab::jobs::kinds::{self, Job};
use lab::jobs::worker::WorkerOptions;
use lab::jobs::{Changes, EventData, EventFeed, JobId, JobQueue, JobState, NewJob};
use lab::startup::Services;
use lab::startup::WorkerProcess;

/// `lab jobs ...`.
#[derive(Debug, Subcommand)]
pub enum Jobs {
    /// Submit an analysis: `lab jobs submit top_customers n=5`. Kinds:
    /// revenue_by_customer [customer_id=ID], revenue_by_month from=DATE to=DATE,
    /// top_customers n=N, overdue_invoices as_of=DATE [limit=N],
    /// invoice_status_summary.
    Submit(SubmitArgs),
    /// The other commands, which need the queue from their start (their
    /// names are `lab jobs`'s own: flattened).
    #[command(flatten)]
    Queue(QueueCommand),
}

/// `lab jobs submit`'s arguments, parsed before anything is connected to.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The analysis.
    kind: String,
    /// Its parameters, as name=value.
    params: Vec<String>,
    /// Attempts allowed.
    #[arg(long, default_value_t = lab::jobs::queue::DEFAULT_ATTEMPTS)]
    attempts: u32,
    /// Submitting again with the same key gives the same job.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Follow the job until it is over, as `lab jobs watch` does.
    #[arg(long)]
    watch: bool,
}

/// The `lab jobs` commands that work on the queue from their start.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Follow a job: its state changes and progress, then its result.
    Watch {
        /// The job's id (24 hexadecimal digits, as `lab jobs submit` prints).
        id: JobId,
    },
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (queued, running, waiting_retry,
        /// succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Cancel a job that has not finished.
    Cancel {
        /// The job's id (24 hexadecimal digits, as `lab jobs submit` prints).
        id: JobId,
    },
    /// List the dead letters: jobs that failed on every attempt.
    Dead,
    /// Queue a dead letter again, with fresh attempts.
    Requeue {
        /// The job's id (24 hexadecimal digits, as `lab jobs submit` prints).
        id: JobId,
    },
}

/// The context of every failed call to the queue.
const UNAVAILABLE: &str = "the job queue is unavailable";

async fn connect(config: &Config) -> anyhow::Result<(Services, JobQueue)> {
    let lab = Services::connect(config).await?;
    let queue = lab.jobs.clone();
    Ok((lab, queue))
}

/// Runs `lab jobs ...`.
pub async fn run(config: &Config, command: Jobs) -> anyhow::Result<ExitCode> {
    match command {
        Jobs::Submit(args) => submit(config, args).await,
        Jobs::Queue(command) => on_queue(config, command).await,
    }
}

/// Submits the job `args` describe, then follows it if asked. The job is
/// parsed before anything is connected to, so a typo is reported as such
/// even when the lab is down.
async fn submit(config: &Config, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let params = kinds::params_from_pairs(&args.params)?;
    let parsed = Job::parse(&args.kind, &params, config.job_drills)?;
    let mut job = NewJob::of(&parsed).attempts(args.attempts);
    if let Some(key) = &args.idempotency_key {
        job = job.idempotency_key(key);
    }
    let (lab, queue) = connect(config).await?;
    let (id, created) = queue.submit(&job).await.context(UNAVAILABLE)?;
    if created {
        println!("Submitted job {id}");
    } else {
        println!("That idempotency key already made job {id}");
    }
    if args.watch {
        follow(&lab, &queue, &id, config.api_port).await
    } else {
        println!("Follow it with: cargo lab jobs watch {id}");
        Ok(ExitCode::SUCCESS)
    }
}

/// Runs one of the commands on jobs already queued.
async fn on_queue(config: &Config, command: QueueCommand) -> anyhow::Result<ExitCode> {
    let (lab, queue) = connect(config).await?;
    match command {
        QueueCommand::Watch { id } => follow(&lab, &queue, &id, config.api_port).await,
        QueueCommand::List { state, limit } => {
            let state = state
                .map(|name| {
                    JobState::parse(&name)
                        .ok_or_else(|| anyhow!("{name:?} is not a state: {}", JobState::names()))
                })
                .transpose()?;
            let jobs = queue
                .list(state, None, limit.clamp(1, 1000))
                .await
                .context(UNAVAILABLE)?;
            for job in &jobs {
                println!(
                    "{}  {:<13} {:<24} attempts {}/{}  {}",
                    job.id,
                    job.state.as_str(),
                    job.kind,
                    job.attempts,
                    job.max_attempts,
                    job.error.as_deref().unwrap_or("")
                );
            }
            let stats = queue.stats().await.context(UNAVAILABLE)?;
            println!(
                "{} queued, {} running, {} waiting to retry, {} dead letters",
                stats.queued, stats.running, stats.waiting_retry, stats.dead
            );
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Cancel { id } => match queue.cancel(&id).await.context(UNAVAILABLE)? {
            None => bail!("there is no job {id}"),
            Some(before) if matches!(before, JobState::Succeeded | JobState::Failed) => {
                bail!("job {id} has already {}", before.as_str())
            }
            Some(before) => {
                println!("Cancelled job {id} (it was {})", before.as_str());
                Ok(ExitCode::SUCCESS)
            }
        },
        QueueCommand::Dead => {
            for id in queue.dead_letters().await.context(UNAVAILABLE)? {
                let job = queue.get(&id).await.context(UNAVAILABLE)?;
                let (kind, error) = job
                    .map(|job| (job.kind, job.error.unwrap_or_default()))
                    .unwrap_or_default();
                println!("{id}  {kind:<24} {error}");
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Requeue { id } => {
            if queue.requeue(&id).await.context(UNAVAILABLE)? {
                println!("Job {id} is queued again with fresh attempts");
                Ok(ExitCode::SUCCESS)
            } else {
                bail!("job {id} is not on the dead-letter list")
            }
        }
    }
}

/// Prints job `id`'s events as they come until it is over, then its
/// result; fails unless it succeeded.
async fn follow(
    lab: &Services,
    queue: &JobQueue,
    id: &JobId,
    api_port: u16,
) -> anyhow::Result<ExitCode> {
    let changes = Changes::listen(&lab.redis_url, lab::jobs::PREFIX).context(UNAVAILABLE)?;
    let Some(mut feed) = EventFeed::start(queue, id, None, changes.subscribe())
        .await
        .context(UNAVAILABLE)?
    else {
        bail!("there is no job {id} (or it has expired)");
    };
    let mut bar: Option<ProgressBar> = None;
    while let Some(event) = feed.next().await.context(UNAVAILABLE)? {
        show(&event.data, &mut bar);
    }
    finish(lab, queue, id, api_port).await
}

/// Prints one event: a line for a state change or a webhook attempt, the
/// progress bar (made at the first progress report) for progress.
fn show(data: &EventData, bar: &mut Option<ProgressBar>) {
    match data {
        EventData::State {
            state,
            attempt,
            error,
            ..
        } => {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
            let why = error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            println!("{} (attempt {attempt}){why}", state.as_str());
        }
        EventData::Progress(progress) => {
            let bar = bar.get_or_insert_with(|| {
                ProgressBar::new(progress.total).with_style(
                    ProgressStyle::with_template("  {bar:30} {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                )
            });
            bar.set_length(progress.total);
            bar.set_position(progress.done);
            bar.set_message(progress.note.clone());
        }
        EventData::Webhook { webhook, note, .. } => {
            println!("webhook {webhook}: {note}");
        }
    }
}

/// Prints job `id`'s result once it is over, the first lines of it; the
/// exit code says whether it succeeded.
async fn finish(
    lab: &Services,
    queue: &JobQueue,
    id: &JobId,
    api_port: u16,
) -> anyhow::Result<ExitCode> {
    let Some(job) = queue.get(id).await.context(UNAVAILABLE)? else {
        bail!("job {id} expired");
    };
    if job.state != JobState::Succeeded {
        return Ok(ExitCode::FAILURE);
    }
    let result = lab::jobs::results::visible(&lab.db, &job)
        .await
        .context("cannot read the job's result")?
        .unwrap_or_default();
    let text = serde_json::to_string_pretty(&result).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    const SHOWN: usize = 30;
    for line in lines.iter().take(SHOWN) {
        println!("{line}");
    }
    if lines.len() > SHOWN {
        println!(
            "... {} more lines: curl http://127.0.0.1:{api_port}/jobs/{id}/result",
            lines.len() - SHOWN
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab worker`: runs jobs until Ctrl-C or SIGTERM, then hands the running
/// ones back (`lab::startup::WorkerProcess`).
pub async fn worker(
    config: &Config,
    options: WorkerOptions,
    status_port: Option<u16>,
    stop_requested: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    // Outages, failed jobs and lost leases are logged as they happen.
    let _flushed_at_exit = crate::logging::init_logging(config)?;
    let process = WorkerProcess::build(config, options, status_port).await?;
    println!(
        "Worker running {} jobs at once (Ctrl-C hands running jobs back and stops)",
        options.concurrency
    );
    let report = process.run_until(stop_requested).await;
    println!(
        "Stopped: {} succeeded, {} failed, {} lost their claim, {} handed back, \
         {} put off while MongoDB was unreachable, {} waits for Redis or MongoDB.",
        report.succeeded,
        report.failed,
        report.fenced,
        report.handed_back,
        report.postponed,
        report.outages
    );
    Ok(ExitCode::SUCCESS)
}
