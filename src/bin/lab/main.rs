//! The `lab` command. It parses arguments, calls the support crate, and
//! prints; every decision is made in the library, where it is tested.

mod course_cli;
mod grading_cli;
mod jobs_cli;
mod lessons_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lab::Config;
use lab::control::{self, LabError, UpOptions, UpOutcome, Verdict};
use lab::dataset::{self, Existing, SeedProgress, SeedSpec};
use lab::grading::Flavor;
use lab::jobs::worker::WorkerOptions;
use lab::services::Toolbox;
use lab::startup::Application;
use tracing_appender::non_blocking::WorkerGuard;

/// The allocator of every `lab` command: glibc's malloc took a tenth of the
/// API's time on the cache-hit path (its free lists contended between the
/// runtime's threads); mimalloc keeps a heap per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Rust teaching lab for Redis, MongoDB and background jobs.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Redis and MongoDB (installing what is missing), load the data
    /// set, and serve the billing API and the notebooks.
    Up {
        /// Do not load the standard data set into an empty database.
        #[arg(long)]
        no_seed: bool,
        /// Do not install, prepare or start Jupyter Lab for the notebooks.
        #[arg(long)]
        no_jupyter: bool,
        /// Do not start the billing API.
        #[arg(long)]
        no_api: bool,
        /// Do not start a job worker.
        #[arg(long)]
        no_worker: bool,
        /// Run Redis as a cluster of six `redis-server` processes (three
        /// masters, a replica each) instead of one server; the same as
        /// `LAB_REDIS_CLUSTER=1`. The notebooks need one server, so Jupyter
        /// is not started.
        #[arg(long)]
        redis_cluster: bool,
    },
    /// Run analysis jobs from the queue in this terminal; Ctrl-C hands the
    /// running ones back and stops.
    Worker {
        /// Jobs run at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Answer `GET /` on this port of 127.0.0.1 with the worker's state.
        #[arg(long)]
        status_port: Option<u16>,
        /// How long a claim lasts without a heartbeat, in milliseconds: a
        /// job whose worker died runs again after this long.
        #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
        lease_ms: u64,
    },
    /// Submit, watch, list and cancel background jobs; dead letters.
    #[command(subcommand)]
    Jobs(jobs_cli::Jobs),
    /// Serve the billing API in this terminal, on the lab's services (or
    /// REDIS_URL and MONGODB_URI). Ctrl-C stops it after the requests under way.
    Serve {
        /// The port on 127.0.0.1 (default 8000, or LAB_API_PORT).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop what `lab up` started. Data is kept for the next `lab up`.
    Down,
    /// Show what runs and whether it answers.
    Status,
    /// Print REDIS_URL, MONGODB_URI and MONGODB_DB for the running lab: `eval "$(cargo lab env)"`.
    Env,
    /// Check every prerequisite and print the fix for each problem.
    Doctor,
    /// Generate a billing data set and load it into MongoDB.
    Seed {
        /// Number of customers.
        #[arg(long, default_value_t = 1_000, allow_negative_numbers = true)]
        customers: i64,
        /// Number of invoices.
        #[arg(long, default_value_t = 20_000, allow_negative_numbers = true)]
        invoices: i64,
        /// The seed: the same seed gives identical documents, ids included.
        #[arg(long, default_value_t = dataset::DEFAULT_SEED)]
        seed: u64,
        /// Replace the data set if the collections already hold documents.
        #[arg(long)]
        replace: bool,
    },
    /// Measure the lab's performance and print the figures.
    #[command(subcommand)]
    Bench(Bench),
    /// Grade your exercises (or one of them) and show the points.
    Grade {
        /// Grade only this exercise.
        id: Option<String>,
        /// Also write the report as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write the report as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print the report in this format instead of the table: `json`,
        /// `junit`, `exercism` (Exercism's results.json, version 3) or
        /// `classroom` (GitHub Classroom's autograding runner results).
        #[arg(long, value_enum)]
        format: Option<grading_cli::Format>,
        /// Grade the answer key instead of the exercises (for instructors).
        #[arg(long)]
        solutions: bool,
    },
    /// Show the next hint for an exercise.
    Hint {
        /// The exercise.
        id: String,
    },
    /// List the exercises in course order with their status from the last
    /// grading, their points and their lessons (nothing is compiled).
    List,
    /// Name the first unfinished exercise, its file, its lesson and how to grade it.
    Next,
    /// Put an exercise (or all of them) back as it was before you started.
    /// Your changes are lost and the gradings forgotten.
    Reset {
        /// The exercise.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Reset every exercise.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Show an exercise's answer key, after asking; `lab list` records that you looked.
    Solution {
        /// The exercise.
        id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Grade the next unfinished exercise (or ID) each time you save it, and
    /// move on to the next one when it passes. Stop with Ctrl-C.
    Watch {
        /// Start with this exercise.
        id: Option<String>,
    },
    /// Run the notebooks through Jupyter and the Rust kernel, headless.
    #[command(subcommand)]
    Notebooks(Notebooks),
    /// Check the course itself: exercises score 0 untouched, solutions score full marks.
    CheckExercises {
        /// Record the current exercise files as the originals `lab reset` restores.
        #[arg(long)]
        record: bool,
        /// Grade only the corpus of wrong and alternative answers of these
        /// exercises (all of them when none is named after the flag), and
        /// print each answer's verdict and message.
        #[arg(long, value_name = "ID", num_args = 0..)]
        corpus: Option<Vec<String>>,
    },
}

#[derive(Debug, Subcommand)]
enum Notebooks {
    /// Run every cell of each notebook in a fresh kernel and compare the
    /// outputs with those stored in the notebook.
    Check {
        /// Only the notebooks whose names start with this (`01`, `02-hashes`).
        name: Option<String>,
    },
    /// Run each notebook and store its fresh outputs in it (for authors);
    /// refuses if a cell fails.
    Record {
        /// Only the notebooks whose names start with this.
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Seeding speed next to a bare insert_many of the same documents.
    Seed {
        /// Number of customers.
        #[arg(long, default_value_t = 1_000)]
        customers: i64,
        /// Number of invoices.
        #[arg(long, default_value_t = 1_000_000)]
        invoices: i64,
        /// The seed.
        #[arg(long, default_value_t = dataset::DEFAULT_SEED)]
        seed: u64,
    },
    /// GET /customers/{id} on cache hits and misses, next to bare Redis GETs.
    Api {
        /// Connections sending requests at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        concurrency: u64,
        /// Requests in the hit phase (and GETs in the bare Redis phase); with
        /// --external, only when wrk is missing.
        #[arg(long, default_value_t = 50_000)]
        requests: usize,
        /// Rounds of 1,000 misses (not with --external).
        #[arg(long, default_value_t = 5)]
        miss_rounds: usize,
        /// Serve the API from a child `lab serve`, as users run it, drive it
        /// with wrk (2 threads) and measure Redis with redis-benchmark: the
        /// figures those tools give. Cache hits only.
        #[arg(long)]
        external: bool,
        /// With --external: how long wrk drives the API, in seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// With --external: requests redis-benchmark sends.
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        redis_requests: u64,
    },
    /// Revenue per customer by a pipeline in the database, next to the same
    /// sum computed in Rust.
    Revenue {
        /// Number of customers.
        #[arg(long, default_value_t = 1_000)]
        customers: i64,
        /// Number of invoices.
        #[arg(long, default_value_t = 20_000)]
        invoices: i64,
        /// How many times to run each.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// No-op job throughput with 1 and 2 workers next to RQ on the same
    /// Redis, pick-up latency, a run in Sidekiq's manner next to its
    /// published figure, and revenue by customer as a job next to the same
    /// pipeline run directly.
    Jobs {
        /// No-op jobs per throughput run (the lab's and RQ's).
        #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        jobs: u64,
        /// Slots (jobs run at once) of each worker in the throughput runs.
        #[arg(long, default_value_t = lab::bench::jobs::SIDEKIQ_CONCURRENCY as u64, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        concurrency: u64,
        /// Jobs whose pick-up latency is measured.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        samples: u64,
        /// Jobs submitted first, then drained by one worker of 30 slots
        /// (Sidekiq's manner).
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        drain_jobs: u64,
        /// Invoices of the revenue comparison (200,000 keeps a default run
        /// under two minutes).
        #[arg(long, default_value_t = 200_000)]
        invoices: i64,
        /// Rounds of the revenue comparison.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Also measure on Redis Clusters of 1, 2 and 3 masters (started
        /// for the run, two workers each).
        #[arg(long)]
        cluster: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match Config::from_env() {
        Ok(config) => run(cli.command, &config).await,
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lab: error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, outermost first, as `{:#}` shows
/// them, except that a cause already quoted by the message before it is not
/// repeated: the library's errors carry their cause's text in their own.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn run(command: Command, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up {
            no_seed,
            no_jupyter,
            no_api,
            no_worker,
            redis_cluster,
        } => {
            up(
                &Config {
                    redis_cluster: config.redis_cluster || redis_cluster,
                    ..config.clone()
                },
                UpParts {
                    seed: !no_seed,
                    jupyter: !no_jupyter,
                    api: !no_api,
                    worker: !no_worker,
                },
            )
            .await
        }
        Command::Serve { port } => serve(config, port).await,
        Command::Worker {
            concurrency,
            status_port,
            lease_ms,
        } => {
            jobs_cli::worker(
                config,
                WorkerOptions {
                    concurrency: concurrency.max(1),
                    lease: std::time::Duration::from_millis(lease_ms),
                    drills: config.job_drills,
                    ..Default::default()
                },
                status_port,
                stop_requested(),
            )
            .await
        }
        Command::Jobs(command) => jobs_cli::run(config, command).await,
        Command::Down => down(config),
        Command::Status => status(config).await,
        Command::Env => env(config),
        Command::Doctor => Ok(doctor(config).await),
        Command::Seed {
            customers,
            invoices,
            seed,
            replace,
        } => {
            let spec = SeedSpec::new(customers, invoices, seed)?;
            let existing = if replace {
                Existing::Replace
            } else {
                Existing::Refuse
            };
            seed_command(config, spec, existing).await
        }
        Command::Bench(Bench::Seed {
            customers,
            invoices,
            seed,
        }) => {
            let spec = SeedSpec::new(customers, invoices, seed)?;
            bench_seed(config, spec).await
        }
        Command::Bench(Bench::Api {
            concurrency,
            requests,
            miss_rounds,
            external: false,
            ..
        }) => bench_api(config, concurrency as usize, requests, miss_rounds).await,
        Command::Bench(Bench::Api {
            concurrency,
            requests,
            external: true,
            seconds,
            redis_requests,
            ..
        }) => {
            let plan = ExternalPlan {
                concurrency: concurrency as usize,
                duration: std::time::Duration::from_secs(seconds),
                redis_requests: redis_requests as usize,
                fallback_requests: requests,
            };
            bench_api_external(config, plan).await
        }
        Command::Bench(Bench::Revenue {
            customers,
            invoices,
            rounds,
        }) => {
            let spec = SeedSpec::new(customers, invoices, dataset::DEFAULT_SEED)?;
            bench_revenue(config, spec, rounds).await
        }
        Command::Bench(Bench::Jobs {
            jobs,
            concurrency,
            samples,
            drain_jobs,
            invoices,
            rounds,
            cluster,
        }) => {
            let spec = SeedSpec::new(1_000, invoices, dataset::DEFAULT_SEED)?;
            let lab =
                std::env::current_exe().context("cannot find the lab program to run as workers")?;
            let plan = lab::bench::jobs::JobsBenchPlan {
                lab,
                jobs: jobs as usize,
                concurrency: concurrency as usize,
                samples: samples as usize,
                drain_jobs: drain_jobs as usize,
                spec,
                rounds,
                cluster_masters: if cluster { vec![1, 2, 3] } else { Vec::new() },
            };
            bench_jobs(config, &plan).await
        }
        Command::Grade {
            id,
            json,
            junit,
            format,
            solutions,
        } => {
            let flavor = if solutions {
                Flavor::Solutions
            } else {
                Flavor::Exercises
            };
            let outputs = grading_cli::Outputs {
                json,
                junit,
                format,
            };
            grading_cli::grade(config, id, flavor, outputs).await
        }
        Command::Hint { id } => grading_cli::hint(config, &id),
        Command::List => course_cli::list(config),
        Command::Next => course_cli::next(config),
        Command::Reset { id, all: _, yes } => course_cli::reset(config, id.as_deref(), yes),
        Command::Solution { id, yes } => course_cli::solution(config, &id, yes),
        Command::Watch { id } => course_cli::watch(config, id.as_deref()).await,
        Command::CheckExercises {
            corpus: Some(ids), ..
        } => grading_cli::check_corpus(config, &ids).await,
        Command::CheckExercises { record, .. } => {
            grading_cli::check_exercises(config, record).await
        }
        Command::Notebooks(Notebooks::Check { name }) => {
            lessons_cli::notebooks(config, name, lessons_cli::Action::Check).await
        }
        Command::Notebooks(Notebooks::Record { name }) => {
            lessons_cli::notebooks(config, name, lessons_cli::Action::Record).await
        }
    }
}

fn say(message: &str) {
    eprintln!("lab: {message}");
}

/// What `lab up` starts besides Redis and MongoDB.
struct UpParts {
    seed: bool,
    jupyter: bool,
    api: bool,
    worker: bool,
}

async fn up(config: &Config, parts: UpParts) -> anyhow::Result<ExitCode> {
    let UpParts {
        seed,
        jupyter,
        api,
        worker,
    } = parts;
    // What ran before, so that a failed later step stops only what this
    // `up` started.
    let before = control::LabState::load(config).ok().flatten();
    let mut bar = SeedBar::default();
    // Ctrl-C drops the `up` future, which stops any server it started but
    // had not yet recorded; without this the process would just die.
    let mut on_progress = |progress| bar.update(progress);
    let outcome = tokio::select! {
        outcome = control::up(config, UpOptions { seed }, &say, &mut on_progress) => outcome?,
        _ = tokio::signal::ctrl_c() => return Err(LabError::Interrupted.into()),
    };
    bar.finish();
    let cluster = match &outcome {
        UpOutcome::AlreadyRunning(state) | UpOutcome::Started { state, .. } => {
            state.redis_is_cluster()
        }
    };
    match outcome {
        UpOutcome::AlreadyRunning(state) => {
            println!("The lab is already running; nothing was changed.");
            print_services(config, &state);
        }
        UpOutcome::Started { state, seeded } => {
            println!("The lab is up.");
            print_services(config, &state);
            if let Some(report) = seeded {
                println!(
                    "Loaded {} customers and {} invoices in {:.1} s.",
                    report.customers,
                    report.invoices,
                    report.elapsed.as_secs_f64()
                );
            }
            println!("Connect other tools with: eval \"$(cargo lab env)\"");
        }
    }
    if cluster && jupyter {
        println!(
            "Jupyter is not started: the notebooks need one Redis server (`lab down`, then `lab up` without --redis-cluster)."
        );
    }
    if let Err(error) = start_helpers(config, api, worker, jupyter && !cluster).await {
        eprintln!("lab: {error}");
        eprintln!("lab: stopping what this `up` started, so the lab is as it was");
        control::roll_back(config, before.as_ref())?;
        return Err(error.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The API, the worker and Jupyter Lab, each unless left out.
async fn start_helpers(
    config: &Config,
    api: bool,
    worker: bool,
    jupyter: bool,
) -> Result<(), LabError> {
    if api || worker {
        let program = std::env::current_exe().map_err(|source| LabError::Io {
            context: "cannot find the lab program to serve the API and run a worker".into(),
            source,
        })?;
        if api {
            let record = control::background::open_api(config, program.clone(), &say).await?;
            println!("API: {}", record.url);
            println!(
                "API key (writes send `Authorization: Bearer <key>`; `lab env` exports it as LAB_API_KEY): {}",
                control::secrets::api_key(config)?.expose()
            );
        }
        if worker {
            let record = control::background::open_worker(config, program, &say).await?;
            println!(
                "Worker: {} jobs at once (status on {})",
                control::background::WORKER_CONCURRENCY,
                record.url
            );
        }
    }
    if jupyter {
        let prepared = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || control::notebooks::prepare(&config, &say))
                .await
                .map_err(|error| LabError::Io {
                    context: "preparing the notebooks stopped".into(),
                    source: std::io::Error::other(error),
                })??
        };
        let record = control::notebooks::open(config, &prepared, &say).await?;
        println!("Notebooks: {}", record.url);
    }
    Ok(())
}

/// Logs as `LAB_LOG` says, to standard output or to `LAB_LOG_FILE` (rotated
/// by size), through a background thread: writing never holds up a
/// request. The guard flushes what is queued when dropped; keep it until
/// the process ends.
fn init_logging(config: &Config) -> anyhow::Result<WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter).with_context(|| {
        format!(
            "LAB_LOG={:?} is not a log filter such as \"info\" or \"debug\"",
            config.log_filter
        )
    })?;
    let (writer, guard) = lab::api::log_file::writer(config.log_file.as_deref())?;
    // Colour codes only for a person at a terminal: `lab up` sends the log
    // to a file, where they would be noise.
    let colour = config.log_file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer)
        .init();
    Ok(guard)
}

async fn serve(config: &Config, port: Option<u16>) -> anyhow::Result<ExitCode> {
    let _flushed_at_exit = init_logging(config)?;
    let app = Application::build(config, port.unwrap_or(config.api_port)).await?;
    println!(
        "Billing API on http://127.0.0.1:{} (Ctrl-C stops it)",
        app.port()
    );
    tracing::info!(port = app.port(), "billing API listening");
    app.run_until(stop_requested()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or the SIGTERM `lab down` sends.
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn print_services(config: &Config, state: &control::LabState) {
    for (name, record) in state.services() {
        let pid = pid_label(record.pid);
        println!(
            "  {name:<8} {}  ({pid})",
            lab::services::redact(&record.url)
        );
    }
    println!("  database {}", state.database);
    println!("  state    {}", config.state_file().display());
}

/// "pid 1234" for a server the lab started, "external" for one given by URL.
fn pid_label(pid: Option<u32>) -> String {
    pid.map(|pid| format!("pid {pid}"))
        .unwrap_or_else(|| "external".to_owned())
}

fn down(config: &Config) -> anyhow::Result<ExitCode> {
    match control::down(config)? {
        None => println!("The lab is not running."),
        Some(report) => {
            for (name, killed) in report.stopped {
                let how = if killed {
                    "killed after 30 s"
                } else {
                    "stopped"
                };
                println!("{name} {how}.");
            }
            for name in report.left_alone {
                println!("{name} is your own server; left running.");
            }
            println!("Data is kept for the next `cargo lab up`.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(config: &Config) -> anyhow::Result<ExitCode> {
    let Some(services) = control::status(config).await? else {
        println!("The lab is not running. Start it with `cargo lab up`.");
        return Ok(ExitCode::SUCCESS);
    };
    for service in &services {
        let state = if service.answering {
            "running"
        } else {
            "NOT ANSWERING"
        };
        let pid = pid_label(service.pid);
        println!(
            "{:<8} {state:<14} {}  ({pid})",
            service.name,
            lab::services::redact(&service.url)
        );
    }
    if services.iter().all(|s| s.answering) {
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Restart with `cargo lab down && cargo lab up`.");
        Ok(ExitCode::FAILURE)
    }
}

fn env(config: &Config) -> anyhow::Result<ExitCode> {
    let state = control::LabState::load(config)?.ok_or(LabError::NotRunning {
        variable: "MONGODB_URI",
    })?;
    let key = format!(
        "LAB_API_KEY={}",
        control::secrets::api_key(config)?.expose()
    );
    for line in state.env_lines().into_iter().chain([key]) {
        // Quoted for the shell: URLs may contain `&` or `?`.
        let (name, value) = line.split_once('=').unwrap_or((&line, ""));
        println!("export {name}='{}'", value.replace('\'', r"'\''"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn doctor(config: &Config) -> ExitCode {
    let checks = control::diagnose(config, &Toolbox::new(config)).await;
    let mut failed = false;
    for check in &checks {
        let mark = match check.verdict {
            Verdict::Ok => "ok  ",
            Verdict::WillInstall => "auto",
            Verdict::Fail => {
                failed = true;
                "FAIL"
            }
        };
        println!("[{mark}] {}: {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            println!("       fix: {fix}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn seed_command(
    config: &Config,
    spec: SeedSpec,
    existing: Existing,
) -> anyhow::Result<ExitCode> {
    let database = control::billing_database(config).await?;
    let mut bar = SeedBar::default();
    let report = dataset::seed(&database, spec, existing, &mut |p| bar.update(p)).await?;
    bar.finish();
    println!(
        "Loaded {} customers and {} invoices into {} in {:.1} s ({:.0} documents/s).",
        report.customers,
        report.invoices,
        database.name(),
        report.elapsed.as_secs_f64(),
        report.docs_per_second()
    );
    Ok(ExitCode::SUCCESS)
}

async fn bench_seed(config: &Config, spec: SeedSpec) -> anyhow::Result<ExitCode> {
    let report = lab::bench::seed::run(config, spec, &say).await?;
    println!("server:            {}", report.server);
    println!(
        "documents:         {} ({} customers, {} invoices)",
        report.documents, spec.customers, spec.invoices
    );
    println!("generate only:     {:.2} s", report.generate.as_secs_f64());
    println!(
        "bare insert_many:  {:.2} s  {:>10.0} docs/s",
        report.bare_insert.as_secs_f64(),
        report.bare_docs_per_second()
    );
    println!(
        "bare, indexed:     {:.2} s  {:>10.0} docs/s  (same indexes as lab seed)",
        report.bare_indexed.as_secs_f64(),
        report.bare_indexed_docs_per_second()
    );
    println!(
        "lab seed:          {:.2} s  {:>10.0} docs/s  (generation, inserts, indexes, publication)",
        report.seed.as_secs_f64(),
        report.seed_docs_per_second()
    );
    println!(
        "ratio:             {:.2} of the bare insert_many rate",
        report.ratio()
    );
    if let (Some(elapsed), Some(rate)) =
        (report.seed_without_sync, report.unsynced_docs_per_second())
    {
        println!(
            "lab seed, no sync: {:.2} s  {:>10.0} docs/s  (a server without --sync-on-commit: acknowledged writes may be lost to kill -9)",
            elapsed.as_secs_f64(),
            rate
        );
        println!(
            "durability cost:   {:.2} of the unsynced seeding rate",
            report.seed_docs_per_second() / rate
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `lab bench api`: rate, p50, p99, requests.
fn show_phase(name: &str, phase: &lab::bench::api::Phase) {
    println!(
        "{name:<20} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   ({} requests)",
        phase.rate(),
        phase.p50.as_secs_f64() * 1000.0,
        phase.p99.as_secs_f64() * 1000.0,
        phase.requests
    );
}

async fn bench_api(
    config: &Config,
    concurrency: usize,
    requests: usize,
    miss_rounds: usize,
) -> anyhow::Result<ExitCode> {
    let report = lab::bench::api::run(config, concurrency, requests, miss_rounds, &say).await?;
    println!("MongoDB: {}", report.server);
    println!("concurrency: {} connections", report.concurrency);
    show_phase("API, cache hit", &report.hit);
    show_phase("API, cache miss", &report.miss);
    show_phase("bare Redis GET", &report.bare_redis);
    println!(
        "ratio: the hit path runs at {:.2} of the bare Redis GET rate{}",
        report.ratio(),
        if report.all_hits_from_cache {
            ""
        } else {
            " (some hits were not served from the cache!)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// What `lab bench api --external` was asked for.
struct ExternalPlan {
    concurrency: usize,
    duration: std::time::Duration,
    redis_requests: usize,
    fallback_requests: usize,
}

async fn bench_api_external(config: &Config, plan: ExternalPlan) -> anyhow::Result<ExitCode> {
    let lab = std::env::current_exe().context("cannot find the lab program to run `lab serve`")?;
    let report = lab::bench::api::run_external(
        config,
        lab,
        plan.concurrency,
        plan.duration,
        plan.redis_requests,
        plan.fallback_requests,
        &say,
    )
    .await?;
    println!("MongoDB: {}", report.server);
    println!("API: {}, 1,000 customers, cache warm", report.api);
    println!("concurrency: {} connections", report.concurrency);
    println!("API load:   {}", report.api_load);
    println!("Redis load: {}", report.redis_load);
    show_phase("API, cache hit", &report.hit);
    show_phase("bare Redis GET", &report.bare_redis);
    if report.errors > 0 {
        println!(
            "{} answers were errors (not 2xx/3xx) or failed sockets: the rate counts them",
            report.errors
        );
    }
    println!(
        "ratio: the hit path runs at {:.2} of the bare Redis GET rate{}",
        report.ratio(),
        if report.all_hits_from_cache {
            ""
        } else {
            " (the cache counted misses during the run!)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn bench_revenue(config: &Config, spec: SeedSpec, rounds: u32) -> anyhow::Result<ExitCode> {
    use lab::bench::revenue::median;
    let report = lab::bench::revenue::run(config, spec, rounds, &say).await?;
    let show = |times: &[std::time::Duration]| {
        let all: Vec<String> = times
            .iter()
            .map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0))
            .collect();
        format!(
            "median {:>8.1} ms   (rounds: {} ms)",
            median(times).as_secs_f64() * 1000.0,
            all.join(", ")
        )
    };
    println!("server:            {}", report.server);
    println!(
        "data set:          {} customers, {} invoices (loaded in {:.1} s)",
        report.spec.customers,
        report.spec.invoices,
        report.seed.as_secs_f64()
    );
    println!(
        "answer:            {} customers with revenue, {} in all (both ways agree)",
        report.customers, report.total
    );
    println!("in MongoDB:        {}", show(&report.database));
    println!("in Rust:           {}", show(&report.rust));
    println!(
        "ratio:             the Rust sum took {:.2} times as long as the pipeline",
        report.ratio()
    );
    Ok(ExitCode::SUCCESS)
}

async fn bench_jobs(
    config: &Config,
    plan: &lab::bench::jobs::JobsBenchPlan,
) -> anyhow::Result<ExitCode> {
    use lab::bench::jobs::{
        RqOutcome, SIDEKIQ_PUBLISHED, SIDEKIQ_RATE, TARGET_RATE, TARGET_TIMES_RQ,
    };
    use lab::bench::revenue::median;
    let report = lab::bench::jobs::run(config, plan, &say).await?;
    let ms = |time: std::time::Duration| time.as_secs_f64() * 1000.0;
    let line = |who: &str, run: &lab::bench::jobs::Throughput| {
        println!(
            "  {who:<6} {} worker(s) x {:>2} slots: {:>8.0} jobs/s  ({} jobs in {:.2} s)",
            run.workers,
            run.concurrency,
            run.rate(),
            run.jobs,
            run.elapsed.as_secs_f64()
        );
    };
    println!("server:            {}", report.server);
    println!("machine:           {}", report.machine);
    println!("no-op jobs, first submission to last completion:");
    for run in &report.throughput {
        line("lab", run);
    }
    match &report.rq {
        RqOutcome::Measured { throughput, failed } => {
            line("RQ", throughput);
            if *failed > 0 {
                println!("  (RQ failed {failed} of its jobs)");
            }
        }
        RqOutcome::Skipped(why) => println!("  RQ     skipped: {why}"),
    }
    if let Some(lab) = report.compared() {
        let reached = |yes: bool| if yes { "reached" } else { "NOT reached" };
        match report.times_rq() {
            Some(times) => println!(
                "  lab / RQ with {} workers: {times:.1}x (target {TARGET_TIMES_RQ:.0}x: {})",
                lab.workers,
                reached(times >= TARGET_TIMES_RQ)
            ),
            None => println!("  lab / RQ: not measured"),
        }
        println!(
            "  target {TARGET_RATE:.0} jobs/s with {} workers: {} ({:.0} jobs/s)",
            lab.workers,
            reached(lab.rate() >= TARGET_RATE),
            lab.rate()
        );
    }
    for (masters, run) in &report.cluster {
        line(&format!("{masters}m"), run);
    }
    if !report.cluster.is_empty() {
        println!(
            "  (Nm: a Redis Cluster of N masters, no replicas, the queue in 2N shards; every process shares this machine's cores)"
        );
    }
    println!(
        "pick-up latency:   p50 {:.2} ms, p99 {:.2} ms  ({} jobs, idle workers, Redis clock)",
        ms(report.pickup.p50),
        ms(report.pickup.p99),
        report.pickup.requests
    );
    let drained = &report.sidekiq_style;
    println!(
        "Sidekiq's manner:  {} jobs submitted, then drained by 1 worker x {} slots: {:.0} jobs/s ({:.2} s from the worker's start)",
        drained.jobs,
        drained.concurrency,
        drained.rate(),
        drained.elapsed.as_secs_f64()
    );
    println!(
        "  beside the {SIDEKIQ_PUBLISHED} ({:.2}x of it)",
        drained.rate() / SIDEKIQ_RATE
    );
    println!(
        "  hardware differs: this run on {}; Sidekiq's figure is from its author's machine, not this one; Sidekiq keeps no job results, the lab saves each in MongoDB",
        report.machine
    );
    let show = |times: &[std::time::Duration]| {
        let all: Vec<String> = times.iter().map(|t| format!("{:.0}", ms(*t))).collect();
        format!(
            "median {:>8.1} ms   (rounds: {} ms)",
            ms(median(times)),
            all.join(", ")
        )
    };
    println!(
        "revenue by customer over {} invoices:",
        report.spec.invoices
    );
    println!("  as a job:        {}", show(&report.as_job));
    println!("  directly:        {}", show(&report.direct));
    Ok(ExitCode::SUCCESS)
}

/// A progress bar that appears with the first report.
#[derive(Default)]
struct SeedBar(Option<ProgressBar>);

impl SeedBar {
    fn update(&mut self, progress: SeedProgress) {
        let bar = self.0.get_or_insert_with(|| {
            let bar = ProgressBar::new(progress.total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} documents ({per_sec}, {eta} left)",
                )
                .expect("the template is valid"),
            );
            bar
        });
        bar.set_position(progress.written);
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;
    use anyhow::Context;

    /// An error that, like the library's, quotes its cause in its message.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read lab.json: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn the_context_and_each_cause_are_shown_once_on_one_line() {
        let cause = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let plain: anyhow::Result<()> = Err(cause()).context("cannot write report.json");
        assert_eq!(
            one_line(&plain.unwrap_err()),
            "cannot write report.json: no such file"
        );
        let quoting: anyhow::Result<()> =
            Err(Quoting { source: cause() }).context("the lab's state is unreadable");
        assert_eq!(
            one_line(&quoting.unwrap_err()),
            "the lab's state is unreadable: cannot read lab.json: no such file"
        );
    }
}
