//! Why a `lab` command could not do its work.

use lab::dataset::SeedError;
use lab::running::{LocateError, StateError};
use lab::services::{ServiceError, ToolError};

/// A failed `lab up`, `lab down`, `lab status` or `lab seed`. Each message is
/// one line that says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A service could not be started or reached.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Seeding failed; the billing collections are unchanged.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The notebooks' Jupyter could not be installed or run.
    #[error(transparent)]
    Lessons(#[from] crate::lessons::LessonError),
    /// A report could not be made.
    #[error(transparent)]
    Analysis(#[from] lab::analysis::AnalysisError),
    /// Two ways of computing the same answer disagreed: a bug in the lab.
    #[error("{what}; please report this, with the command that showed it")]
    Disagreement {
        /// What differed.
        what: String,
    },
    /// The state file is unreadable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The secrets file is unreadable.
    #[error(transparent)]
    Secrets(#[from] super::secrets::SecretsError),
    /// Another `lab` command holds the lock.
    #[error(
        "another `lab` command is starting or stopping the lab; wait for it to finish and try again"
    )]
    Busy,
    /// The command needs a running lab and there is none, or the state
    /// file that says where it runs is unreadable.
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// Ctrl-C stopped the command.
    #[error(
        "interrupted; servers not yet recorded were stopped, an unfinished data set is redone, and `cargo lab up` picks up from here"
    )]
    Interrupted,
    /// `lab up` was asked for another kind of Redis than the one running.
    #[error(
        "the lab runs {running}, and {asked} was asked for; run `lab down` first (the data of one does not move to the other)"
    )]
    RedisKindChanged {
        /// What runs: "one Redis server" or "a Redis Cluster".
        running: &'static str,
        /// What was asked for.
        asked: &'static str,
    },
    /// A step run on a thread of its own stopped before it finished (it
    /// panicked, or the runtime shut down).
    #[error("{what} stopped: {source}")]
    Stopped {
        /// The step.
        what: &'static str,
        /// Why.
        source: tokio::task::JoinError,
    },
    /// The lab's settings (its environment variables) are invalid.
    #[error("the lab's settings are invalid: {0}")]
    Settings(#[from] lab::config::ConfigError),
    /// The Rust kernel ran a warm-up notebook and one of its cells failed.
    #[error(
        "the Rust kernel could not load the support crate: {error}. Run `cargo build` to see the \
         compile error in full, then `lab up` again"
    )]
    KernelWarmup {
        /// The failed cell's error.
        error: String,
    },
    /// A process the lab started did not answer in time.
    #[error("{what} did not answer within {seconds} s; {hint}")]
    NoAnswer {
        /// The process.
        what: &'static str,
        /// How long it was waited for.
        seconds: u64,
        /// Where to look.
        hint: String,
    },
    /// A step of a benchmark failed with an error of another library.
    #[error("{context}: {source}")]
    Step {
        /// What was being done.
        context: &'static str,
        /// The library's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A benchmark's own check of its set-up failed, so its figures would
    /// not mean what they say; none are printed.
    #[error("{step}: {problem}")]
    Unmeasurable {
        /// What the benchmark was doing.
        step: &'static str,
        /// What it found.
        problem: &'static str,
    },
    /// A file of the lab could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<ToolError> for LabError {
    fn from(error: ToolError) -> Self {
        LabError::Service(error.into())
    }
}
