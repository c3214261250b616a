//! Why a notebook could not reach the lab or start what it asked for.

use crate::running::LocateError;
use crate::services::{ServiceError, ToolError};

/// A failed [`Lab::connect`](super::Lab::connect), worker or small cluster.
/// Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    /// The lab's settings (its environment variables) are invalid.
    #[error("the lab's settings are invalid: {0}")]
    Settings(#[from] crate::config::ConfigError),
    /// No server was found: the lab is not running, or its state file is
    /// unreadable.
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// A server could not be started or reached.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The lab's Redis is a cluster, and a notebook needs one server.
    #[error(
        "the lab's Redis is a cluster ({url}); {what} needs one Redis server: `lab down` then `lab up` (without --redis-cluster) gives one"
    )]
    ClusterNotSupported {
        /// What needs one server.
        what: &'static str,
        /// The cluster's URL, password hidden.
        url: String,
    },
    /// A Redis database number outside the server's range.
    #[error("Redis has databases 0 to 15; there is no database {number}")]
    NoSuchDatabase {
        /// The number asked for.
        number: u8,
    },
    /// Redis refused a subscription the worker needs.
    #[error("cannot subscribe to {what} in Redis: {source}")]
    Subscribe {
        /// What the subscription is for.
        what: &'static str,
        /// Redis's answer.
        source: redis::RedisError,
    },
    /// The worker's thread panicked; the panic's message went to standard
    /// error.
    #[error("{what} panicked; its message is printed above")]
    Panicked {
        /// The thread.
        what: &'static str,
    },
    /// A file or a system resource could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<ToolError> for NotebookError {
    fn from(error: ToolError) -> Self {
        NotebookError::Service(error.into())
    }
}
