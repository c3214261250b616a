//! `lab up` from start to finish: the servers (`lifecycle::up`), then the
//! billing API, a job worker and Jupyter Lab, each unless left out. When one
//! of those fails, everything this `up` started is stopped again, so a
//! failed `lab up` leaves the lab as it found it.

use std::future::Future;

use super::background::{self, WORKER_CONCURRENCY};
use super::error::LabError;
use super::lifecycle::{self, UpOptions, UpOutcome};
use super::state::{LabState, ServiceRecord};
use super::{notebooks, secrets};
use lab::config::{ApiKey, Config};
use lab::dataset::SeedProgress;

/// What `lab up` starts besides Redis and MongoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpParts {
    /// Load the standard data set into an empty database.
    pub seed: bool,
    /// Prepare and start Jupyter Lab (never beside a Redis Cluster: the
    /// notebooks need one server).
    pub jupyter: bool,
    /// Serve the billing API (`lab serve`).
    pub api: bool,
    /// Run a job worker (`lab worker`).
    pub worker: bool,
}

/// A step of `lab up`, told as it happens so the command can show it at
/// once (seeding and Jupyter's preparation take a while).
#[derive(Debug)]
pub enum UpEvent<'a> {
    /// The data set is being loaded.
    Seeding(SeedProgress),
    /// Redis and MongoDB run: started now, or found running.
    Servers(&'a UpOutcome),
    /// Jupyter was asked for but is not started: Redis is a cluster.
    NoJupyterOnCluster,
    /// The billing API answers; writes need `key`.
    Api {
        /// Its record in the state file.
        record: &'a ServiceRecord,
        /// The API key writes send.
        key: &'a ApiKey,
    },
    /// The job worker answers on its status port.
    Worker {
        /// Its record in the state file.
        record: &'a ServiceRecord,
        /// Jobs it runs at once.
        concurrency: usize,
    },
    /// Jupyter Lab answers.
    Notebooks(&'a ServiceRecord),
}

/// Brings the lab up with `parts`, telling `report` each step. The servers'
/// step ends early with [`LabError::Interrupted`] when `interrupted`
/// completes first (Ctrl-C), stopping the servers it had not yet recorded.
/// The API and the worker are this program run as `lab serve` and
/// `lab worker`. If one of them or Jupyter fails, `say` hears why and
/// everything this call started is stopped before the error is returned.
/// `say` is a function rather than a closure because Jupyter's preparation
/// calls it from a blocking thread.
pub async fn bring_up(
    config: &Config,
    parts: UpParts,
    interrupted: impl Future<Output = ()>,
    say: fn(&str),
    report: &mut dyn FnMut(UpEvent<'_>),
) -> Result<(), LabError> {
    // What ran before, so that a failed later step stops only what this
    // `up` started.
    let before = LabState::load(config).ok().flatten();
    let options = UpOptions { seed: parts.seed };
    let mut seeding = |progress| report(UpEvent::Seeding(progress));
    // Ctrl-C drops the servers' step, which stops any server it started but
    // had not yet recorded; without this the process would just die.
    let outcome = tokio::select! {
        outcome = lifecycle::up(config, options, &say, &mut seeding) => outcome?,
        () = interrupted => return Err(LabError::Interrupted),
    };
    let cluster = outcome.state().redis_is_cluster();
    report(UpEvent::Servers(&outcome));
    if cluster && parts.jupyter {
        report(UpEvent::NoJupyterOnCluster);
    }
    let helpers = UpParts {
        jupyter: parts.jupyter && !cluster,
        ..parts
    };
    if let Err(error) = start_helpers(config, helpers, say, report).await {
        say(&error.to_string());
        say("stopping what this `up` started, so the lab is as it was");
        lifecycle::roll_back(config, before.as_ref())?;
        return Err(error);
    }
    Ok(())
}

/// The API, the worker and Jupyter Lab, each unless left out.
async fn start_helpers(
    config: &Config,
    parts: UpParts,
    say: fn(&str),
    report: &mut dyn FnMut(UpEvent<'_>),
) -> Result<(), LabError> {
    if parts.api || parts.worker {
        let program = std::env::current_exe().map_err(|source| LabError::Io {
            context: "cannot find the lab program to serve the API and run a worker".into(),
            source,
        })?;
        if parts.api {
            let record = background::open_api(config, program.clone(), &say).await?;
            let key = secrets::api_key(config)?;
            report(UpEvent::Api {
                record: &record,
                key: &key,
            });
        }
        if parts.worker {
            let record = background::open_worker(config, program, &say).await?;
            report(UpEvent::Worker {
                record: &record,
                concurrency: WORKER_CONCURRENCY,
            });
        }
    }
    if parts.jupyter {
        let prepared = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || notebooks::prepare(&config, &say))
                .await
                .map_err(|source| LabError::Stopped {
                    what: "preparing the notebooks",
                    source,
                })??
        };
        let record = notebooks::open(config, &prepared, &say).await?;
        report(UpEvent::Notebooks(&record));
    }
    Ok(())
}
