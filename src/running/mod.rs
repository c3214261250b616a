//! The running lab as everything else finds it: the state file `lab up`
//! writes (where each server listens), the secrets it made (passwords, the
//! API key), and where Redis and MongoDB are for this process: the variables
//! when set, else the running lab's servers. Starting and stopping the lab
//! is the `lab` command's (`lab_command::control`); this is what notebooks,
//! tests, the API and a worker read.

pub mod secrets;
pub mod state;

pub use secrets::{Secrets, SecretsError};
pub use state::{LabState, ServiceRecord, StateError};

use crate::config::Config;
use crate::services::Origin;

/// Why the servers could not be located.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// No variable names a server and no lab is running.
    #[error(
        "the lab is not running; start it with `cargo lab up`, or set {variable} to use your own server"
    )]
    NotRunning {
        /// The variable that would name a server instead.
        variable: &'static str,
    },
    /// The state file is unreadable.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where MongoDB is: `MONGODB_URI` when set, else the running lab's server.
pub fn mongodb_location(config: &Config) -> Result<(String, Origin), LocateError> {
    location(&config.mongodb_uri, "MONGODB_URI", config, |state| {
        state.mongodb.url
    })
}

/// Where Redis is: `REDIS_URL` when set, else the running lab's server.
pub fn redis_location(config: &Config) -> Result<(String, Origin), LocateError> {
    location(&config.redis_url, "REDIS_URL", config, |state| {
        state.redis.url
    })
}

fn location(
    given: &Option<String>,
    variable: &'static str,
    config: &Config,
    recorded: impl FnOnce(LabState) -> String,
) -> Result<(String, Origin), LocateError> {
    match (given, LabState::load(config)?) {
        (Some(url), _) => Ok((url.clone(), Origin::Variable(variable))),
        (None, Some(state)) => Ok((recorded(state), Origin::Lab)),
        (None, None) => Err(LocateError::NotRunning { variable }),
    }
}
