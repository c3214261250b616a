//! What the `lab` command does: bring the lab up and down, report on it,
//! diagnose the machine. The binary only parses arguments and prints.

pub mod background;
pub mod bring_up;
pub mod doctor;
pub mod error;
pub mod helpers;
pub mod lifecycle;
pub mod notebooks;
pub mod secrets;
pub mod shell_env;
pub mod shutdown;
pub mod state;
pub mod summary;

pub use bring_up::{UpEvent, UpParts, bring_up};
pub use doctor::{Check, Verdict, diagnose};
pub use error::LabError;
pub use lifecycle::{DownReport, ServiceStatus, UpOptions, UpOutcome, down, roll_back, status, up};
pub use secrets::Secrets;
pub use state::{LabState, ServiceRecord};

use crate::config::Config;
use crate::services::{Origin, connect_mongodb};

/// The billing database: on `MONGODB_URI` when set, else on the running lab.
pub async fn billing_database(config: &Config) -> Result<mongodb::Database, LabError> {
    let (uri, origin) = mongodb_location(config)?;
    let client = connect_mongodb(&uri, origin).await?;
    Ok(client.database(&config.database))
}

/// Where MongoDB is: `MONGODB_URI` when set, else the running lab's server.
pub fn mongodb_location(config: &Config) -> Result<(String, Origin), LabError> {
    location(&config.mongodb_uri, "MONGODB_URI", config, |state| {
        state.mongodb.url
    })
}

/// Where Redis is: `REDIS_URL` when set, else the running lab's server.
pub fn redis_location(config: &Config) -> Result<(String, Origin), LabError> {
    location(&config.redis_url, "REDIS_URL", config, |state| {
        state.redis.url
    })
}

fn location(
    given: &Option<String>,
    variable: &'static str,
    config: &Config,
    recorded: impl FnOnce(LabState) -> String,
) -> Result<(String, Origin), LabError> {
    match (given, LabState::load(config)?) {
        (Some(url), _) => Ok((url.clone(), Origin::Variable(variable))),
        (None, Some(state)) => Ok((recorded(state), Origin::Lab)),
        (None, None) => Err(LabError::NotRunning { variable }),
    }
}
