//! RQ, Python's Redis Queue, measured beside the lab's job queue: the same
//! Redis, the same number of no-op jobs, two `rq worker` processes.
//!
//! RQ is installed with pip into a virtual environment of the lab's own
//! under `LAB_HOME` (`LAB_HOME/bench-rq`), made the way the lab's Jupyter
//! is ([`install_packages`]); the system Python is left alone. When there
//! is no Python with `venv`, the comparison is skipped with the command that
//! installs it.
//!
//! The workers are `rq worker` as its documentation starts it (the default
//! `Worker`, which forks a work horse for each job), with `--quiet` as the
//! lab's workers run with `LAB_LOG=error`. A small driver script enqueues
//! the jobs with `enqueue_many` in pipelines of 1,000 (RQ's fastest way in)
//! and waits until RQ's registries count them all finished, on its own
//! clock: the time from its first enqueue to the last job's end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::lessons::jupyter::{has_packages, install_packages};
use lab::config::Config;
use lab::services::{Tool, Toolbox, process};

/// The pinned packages of the comparison.
pub const PACKAGES: &[&str] = &["rq==2.6.1", "redis==6.4.0"];

/// The queue RQ's jobs go to.
const QUEUE: &str = "lab-bench";

/// The no-op job RQ's workers import.
const NOOP_MODULE: &str = "def noop():\n    return None\n";

/// Enqueues `jobs` no-op jobs once `workers` RQ workers are up, waits for
/// every one to be finished or failed, and prints `elapsed SECONDS failed
/// N`.
const DRIVER: &str = r#"
import sys, time
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, FinishedJobRegistry

url, queue_name, jobs, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
redis = Redis.from_url(url)
queue = Queue(queue_name, connection=redis)
deadline = time.monotonic() + 60
while Worker.count(connection=redis, queue=queue) < workers:
    if time.monotonic() > deadline:
        sys.exit("the rq workers did not start within 60 s")
    time.sleep(0.05)
finished = FinishedJobRegistry(queue=queue)
failed = FailedJobRegistry(queue=queue)
started = time.perf_counter()
left = jobs
while left > 0:
    chunk = min(left, 1000)
    with redis.pipeline() as pipe:
        queue.enqueue_many([Queue.prepare_data("lab_bench_noop.noop") for _ in range(chunk)], pipeline=pipe)
        pipe.execute()
    left -= chunk
while finished.count + failed.count < jobs:
    time.sleep(0.005)
print("elapsed", time.perf_counter() - started, "failed", failed.count)
"#;

/// Why RQ was not measured.
#[derive(Debug, thiserror::Error)]
pub enum RqError {
    /// No Python with `venv` here.
    #[error(
        "no python3 with venv here, so RQ is not measured; install it with `{install}` and run the benchmark again"
    )]
    NoPython {
        /// The command that installs it.
        install: String,
    },
    /// pip could not install RQ.
    #[error("cannot install RQ into {venv} (see {log}): {reason}")]
    Install {
        /// The virtual environment.
        venv: String,
        /// The install log.
        log: String,
        /// What failed.
        reason: String,
    },
    /// Writing the driver or running RQ failed.
    #[error("cannot run RQ: {0}")]
    Io(#[from] std::io::Error),
    /// The driver failed or printed something unreadable.
    #[error("the RQ run failed: {0}")]
    Run(String),
}

/// RQ, installed and ready to run.
#[derive(Debug, Clone)]
pub struct Rq {
    venv: PathBuf,
}

/// What RQ did.
#[derive(Debug, Clone, Copy)]
pub struct RqRun {
    /// From the first enqueue to the last job's end.
    pub elapsed: Duration,
    /// Jobs RQ reported failed (0 unless something is wrong).
    pub failed: u64,
}

impl Rq {
    /// RQ in `LAB_HOME/bench-rq`, installed with pip the first time (about
    /// half a minute). Never installs Python itself: a benchmark does not
    /// run `apt-get`.
    pub fn ensure(config: &Config, say: &dyn Fn(&str)) -> Result<Rq, RqError> {
        let toolbox = Toolbox::new(config);
        let python = toolbox
            .locate(Tool::Python)
            .ok_or_else(|| RqError::NoPython {
                install: toolbox.install_command(Tool::Python),
            })?;
        let venv = config.home.join("bench-rq");
        if !has_packages(&venv, PACKAGES) {
            let log = config.home.join("bench-rq-install.log");
            say(&format!(
                "installing RQ into {} (pip, about half a minute, once)",
                venv.display()
            ));
            install_packages(&python, &venv, PACKAGES, &log).map_err(|error| RqError::Install {
                venv: venv.display().to_string(),
                log: log.display().to_string(),
                reason: error.to_string(),
            })?;
        }
        std::fs::write(venv.join("lab_bench_noop.py"), NOOP_MODULE)?;
        std::fs::write(venv.join("lab_bench_driver.py"), DRIVER)?;
        Ok(Rq { venv })
    }

    /// Runs `jobs` no-op jobs through `workers` `rq worker` processes on
    /// the Redis at `redis_url` (RQ's keys start with `rq:`, apart from the
    /// lab's).
    pub async fn run(
        &self,
        redis_url: &str,
        workers: usize,
        jobs: usize,
    ) -> Result<RqRun, RqError> {
        let mut running: Vec<Child> = Vec::new();
        for _ in 0..workers {
            running.push(
                Command::new(self.program("rq"))
                    .args(["worker", "--quiet", "--url", redis_url, "--path"])
                    .arg(&self.venv)
                    .arg(QUEUE)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()?,
            );
        }
        let output = Command::new(self.program("python"))
            .arg(self.venv.join("lab_bench_driver.py"))
            .args([redis_url, QUEUE, &jobs.to_string(), &workers.to_string()])
            .stdin(Stdio::null())
            .output()
            .await;
        for worker in &mut running {
            // SIGTERM is RQ's warm shutdown; the queue is empty by now.
            if let Some(pid) = worker.id() {
                process::ask_to_stop(pid);
            }
        }
        for worker in &mut running {
            let _ = tokio::time::timeout(Duration::from_secs(10), worker.wait()).await;
        }
        let output = output?;
        let printed = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(RqError::Run(format!(
                "{}{}",
                printed,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse_driver(&printed).ok_or_else(|| RqError::Run(printed.into_owned()))
    }

    fn program(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// The virtual environment.
    pub fn venv(&self) -> &Path {
        &self.venv
    }
}

/// Reads the driver's `elapsed SECONDS failed N`.
fn parse_driver(printed: &str) -> Option<RqRun> {
    let words: Vec<&str> = printed.split_whitespace().collect();
    match words.as_slice() {
        ["elapsed", seconds, "failed", failed] => Some(RqRun {
            elapsed: Duration::try_from_secs_f64(seconds.parse().ok()?).ok()?,
            failed: failed.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_line_is_read_and_anything_else_refused() {
        let run = parse_driver("elapsed 12.5 failed 0\n").unwrap();
        assert_eq!(
            (run.elapsed, run.failed),
            (Duration::from_millis(12_500), 0)
        );
        assert!(parse_driver("Traceback (most recent call last)").is_none());
        assert!(parse_driver("elapsed soon failed 0").is_none());
    }
}
