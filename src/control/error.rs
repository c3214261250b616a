//! Why a `lab` command could not do its work.

use super::state::StateError;
use crate::dataset::SeedError;
use crate::services::{ServiceError, ToolError};

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
    Analysis(#[from] crate::analysis::AnalysisError),
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
    /// The command needs a running lab and there is none.
    #[error(
        "the lab is not running; start it with `cargo lab up`, or set {variable} to use your own server"
    )]
    NotRunning {
        /// The variable that would name a server instead.
        variable: &'static str,
    },
    /// Ctrl-C stopped the command.
    #[error(
        "interrupted; servers not yet recorded were stopped, an unfinished data set is redone, and `cargo lab up` picks up from here"
    )]
    Interrupted,
    /// A Redis database number outside the server's range.
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
    /// The lab's Redis is a cluster, and this use needs one server.
    #[error(
        "the lab's Redis is a cluster ({url}); {what} needs one Redis server: `lab down` then `lab up` (without --redis-cluster) gives one"
    )]
    ClusterNotSupported {
        /// What needs one server.
        what: &'static str,
        /// The cluster's URL, password hidden.
        url: String,
    },
    #[error("Redis has databases 0 to 15; there is no database {number}")]
    NoSuchDatabase {
        /// The number asked for.
        number: u8,
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
