//! What the `lab` command does: bring the lab up and down, report on it,
//! diagnose the machine. The binary only parses arguments and prints.

pub mod background;
pub mod bring_up;
pub mod doctor;
pub mod error;
pub mod helpers;
pub mod lifecycle;
pub mod notebooks;
pub mod shell_env;
pub mod shutdown;
pub mod summary;

// The state file and the secrets are the support crate's (`lab::running`):
// notebooks, tests and the API read them; the command writes them.
pub use lab::running::{secrets, state};

pub use bring_up::{UpEvent, UpParts, bring_up};
pub use doctor::{Check, Verdict, diagnose};
pub use error::LabError;
pub use lab::running::{LabState, Secrets, ServiceRecord};
pub use lifecycle::{
    DownReport, Health, ServiceStatus, UpOptions, UpOutcome, down, roll_back, status, up,
};

use lab::config::Config;
use lab::services::{Origin, connect_mongodb};

/// The billing database: on `MONGODB_URI` when set, else on the running lab.
pub async fn billing_database(config: &Config) -> Result<mongodb::Database, LabError> {
    let (uri, origin) = mongodb_location(config)?;
    let client = connect_mongodb(&uri, origin).await?;
    Ok(client.database(&config.database))
}

/// Where MongoDB is: `MONGODB_URI` when set, else the running lab's server.
pub fn mongodb_location(config: &Config) -> Result<(String, Origin), LabError> {
    Ok(lab::running::mongodb_location(config)?)
}

/// Where Redis is: `REDIS_URL` when set, else the running lab's server.
pub fn redis_location(config: &Config) -> Result<(String, Origin), LabError> {
    Ok(lab::running::redis_location(config)?)
}
