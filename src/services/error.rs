//! What can go wrong when starting, reaching or stopping a service.

use super::tools::ToolError;

/// A service could not be started or reached. Every message is one line and
/// says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A program the service needs is missing.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The requested port already has a listener.
    #[error(
        "port {port} on 127.0.0.1 is already in use, so {service} cannot start there; set {} to another port, or stop the program that holds it",
        port_variable(service)
    )]
    PortTaken {
        /// Which service wanted it.
        service: &'static str,
        /// The port.
        port: u16,
    },
    /// The server process ended before it answered.
    #[error("{service} exited during start-up ({status}): {log_tail}")]
    Exited {
        /// Which service.
        service: &'static str,
        /// How it ended.
        status: String,
        /// The last lines it logged.
        log_tail: String,
    },
    /// The server did not answer in time.
    #[error("{service} did not answer within {seconds} s; its log is {log}")]
    NotReady {
        /// Which service.
        service: &'static str,
        /// How long we waited.
        seconds: u64,
        /// Where its log is.
        log: String,
    },
    /// A server given by URL did not answer.
    #[error("{service} at {url} does not answer ({reason}); {hint}")]
    Unreachable {
        /// Which service.
        service: &'static str,
        /// The URL, with any password hidden.
        url: String,
        /// The first line of the driver's error.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// A server the lab started refuses the lab's own credentials: its data
    /// was made with other ones.
    #[error(
        "{service} refuses the lab's password ({reason}): its data in {data} was made with another one; restore LAB_HOME/secrets.json from a backup, or remove {data} to start from an empty database (`lab seed` reloads the data set)"
    )]
    Credentials {
        /// Which service.
        service: &'static str,
        /// The server's answer.
        reason: String,
        /// The folder of its data.
        data: String,
    },
    /// The nodes of a Redis Cluster started but did not form a working cluster.
    #[error(
        "the Redis Cluster did not form ({reason}); the nodes' logs are in their node-N folders under the cluster's folder"
    )]
    ClusterNotFormed {
        /// What went wrong or was awaited.
        reason: String,
    },
    /// A file or folder of the lab could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ServiceError {
    /// Whether the server exited because its port was taken after we chose it.
    pub fn is_port_clash(&self) -> bool {
        match self {
            ServiceError::Exited { log_tail, .. } => {
                let tail = log_tail.to_ascii_lowercase();
                tail.contains("address already in use") || tail.contains("addrinuse")
            }
            _ => false,
        }
    }
}

/// The variable that sets a service's port.
fn port_variable(service: &str) -> &'static str {
    if service == "Redis" {
        "LAB_REDIS_PORT"
    } else {
        "LAB_MONGODB_PORT"
    }
}
