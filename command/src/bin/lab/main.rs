//! The `lab` command. It parses arguments, calls this package's library
//! (`lab_command`) and the support crate (`lab`), and prints; every decision
//! is made in those libraries, where it is tested.

mod bench_cli;
mod bench_jobs_cli;
mod course_cli;
mod grading_cli;
mod jobs_cli;
mod lessons_cli;
mod lifecycle_cli;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lab::Config;
use lab::dataset::{self, Existing, SeedSpec};
use lab::jobs::worker::WorkerOptions;
use lab_command::control::{UpParts, shutdown};
use lab_command::grading::Flavor;

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
    /// Print REDIS_URL, MONGODB_URI, MONGODB_DB and LAB_API_KEY for the running lab: `eval "$(cargo lab env)"`.
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
    Bench(bench_cli::Bench),
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
            lifecycle_cli::up(
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
        Command::Serve { port } => lifecycle_cli::serve(config, port).await,
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
                shutdown::stop_requested(),
            )
            .await
        }
        Command::Jobs(command) => jobs_cli::run(config, command).await,
        Command::Down => lifecycle_cli::down(config),
        Command::Status => lifecycle_cli::status(config).await,
        Command::Env => lifecycle_cli::env(config),
        Command::Doctor => Ok(lifecycle_cli::doctor(config).await),
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
            lifecycle_cli::seed(config, spec, existing).await
        }
        Command::Bench(bench) => bench_cli::run(config, bench).await,
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
            lessons_cli::notebooks(config, name, lab_command::lessons::suite::Action::Check).await
        }
        Command::Notebooks(Notebooks::Record { name }) => {
            lessons_cli::notebooks(config, name, lab_command::lessons::suite::Action::Record).await
        }
    }
}

/// Progress for the person at the terminal, on standard error.
fn say(message: &str) {
    eprintln!("lab: {message}");
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
