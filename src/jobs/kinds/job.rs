//! Anything a job can ask for: an analysis, or a drill that exercises the
//! job system itself.

use mongodb::Database;
use serde::Deserialize;
use serde_json::{Value, json};

use super::analysis::{Analysis, KINDS, NoParams, ProgressSender, read};
use crate::analysis::AnalysisError;
use crate::jobs::queue::Progress;

/// Jobs that exercise the job system itself rather than the data: a job
/// that takes a while (to watch progress, or to kill its worker during),
/// one that panics, one that takes its whole worker process down. Refused
/// unless drills are turned on (`LAB_JOB_DRILLS=1`, or
/// [`WorkerOptions::drills`](crate::jobs::worker::WorkerOptions::drills)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drill {
    /// Does nothing: what the job system costs by itself (`lab bench jobs`).
    Noop,
    /// Sleeps `ms` milliseconds in ten steps, reporting each.
    Sleep {
        /// How long.
        ms: u64,
    },
    /// Panics.
    Panic,
    /// Aborts the worker process.
    Crash,
}

/// The drill kinds.
pub const DRILLS: [&str; 4] = ["noop", "sleep", "panic", "crash"];

/// The longest `sleep` drill.
pub const MAX_SLEEP_MS: u64 = 600_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    ms: u64,
}

/// Anything a job can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// One of the analyses.
    Analysis(Analysis),
    /// A drill.
    Drill(Drill),
}

impl Job {
    /// The job `kind` with `params`, checked; drills only if `drills`.
    pub fn parse(kind: &str, params: &Value, drills: bool) -> Result<Job, AnalysisError> {
        if !DRILLS.contains(&kind) {
            return Analysis::parse(kind, params).map(Job::Analysis);
        }
        if !drills {
            return Err(AnalysisError::InvalidParameter {
                parameter: "kind",
                message: format!(
                    "{kind:?} is a drill, refused unless drills are turned on (LAB_JOB_DRILLS=1); \
                     the analyses are {}",
                    KINDS.join(", ")
                ),
            });
        }
        Ok(Job::Drill(match kind {
            "sleep" => {
                let SleepParams { ms } = read(kind, params)?;
                if ms > MAX_SLEEP_MS {
                    return Err(AnalysisError::invalid(
                        "ms",
                        format!("{ms} is longer than the longest sleep, {MAX_SLEEP_MS}"),
                    ));
                }
                Drill::Sleep { ms }
            }
            "noop" => {
                let _: NoParams = read(kind, params)?;
                Drill::Noop
            }
            "panic" => {
                let _: NoParams = read(kind, params)?;
                Drill::Panic
            }
            _ => {
                let _: NoParams = read(kind, params)?;
                Drill::Crash
            }
        }))
    }

    /// The kind's name, as [`Job::parse`] reads it.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Analysis(analysis) => analysis.kind(),
            Job::Drill(Drill::Noop) => "noop",
            Job::Drill(Drill::Sleep { .. }) => "sleep",
            Job::Drill(Drill::Panic) => "panic",
            Job::Drill(Drill::Crash) => "crash",
        }
    }

    /// The parameters in canonical form: what the queue stores, and what
    /// [`Job::parse`] reads back as this same job.
    pub fn params(&self) -> Value {
        match self {
            Job::Analysis(analysis) => analysis.params(),
            Job::Drill(Drill::Sleep { ms }) => json!({ "ms": ms }),
            Job::Drill(Drill::Noop | Drill::Panic | Drill::Crash) => json!({}),
        }
    }

    /// Runs the job, sending progress to `progress`.
    pub async fn run(
        &self,
        database: &Database,
        progress: &ProgressSender,
    ) -> Result<Value, AnalysisError> {
        match self {
            Job::Analysis(analysis) => analysis.run_reporting(database, Some(progress)).await,
            Job::Drill(Drill::Sleep { ms }) => {
                for done in 1..=10 {
                    tokio::time::sleep(std::time::Duration::from_millis(ms / 10)).await;
                    let _ = progress.send(Progress {
                        done,
                        total: 10,
                        note: "tenths".to_owned(),
                    });
                }
                Ok(json!({ "slept_ms": ms }))
            }
            Job::Drill(Drill::Noop) => Ok(Value::Object(Default::default())),
            Job::Drill(Drill::Panic) => panic!("the panic drill"),
            Job::Drill(Drill::Crash) => std::process::abort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drills_are_refused_unless_turned_on() {
        let drill = |kind: &str, params: Value, drills: bool| {
            Job::parse(kind, &params, drills).map_err(|error| error.to_string())
        };
        assert_eq!(
            drill("sleep", json!({"ms": 50}), true),
            Ok(Job::Drill(Drill::Sleep { ms: 50 }))
        );
        assert!(
            drill("sleep", json!({"ms": 50}), false)
                .unwrap_err()
                .contains("LAB_JOB_DRILLS=1")
        );
        assert!(
            drill("sleep", json!({"ms": 10_000_000}), true)
                .unwrap_err()
                .starts_with("ms:")
        );
        assert_eq!(
            drill("crash", json!({}), true),
            Ok(Job::Drill(Drill::Crash))
        );
        assert_eq!(
            drill("top_customers", json!({"n": 2}), false),
            Ok(Job::Analysis(Analysis::TopCustomers { n: 2 }))
        );
    }

    #[test]
    fn every_job_reads_back_from_its_canonical_form() {
        let jobs = [
            Job::Drill(Drill::Noop),
            Job::Drill(Drill::Sleep { ms: 150 }),
            Job::Drill(Drill::Panic),
            Job::Drill(Drill::Crash),
            Job::Analysis(Analysis::TopCustomers { n: 3 }),
        ];
        for job in jobs {
            assert_eq!(Job::parse(job.kind(), &job.params(), true).unwrap(), job);
        }
    }
}
