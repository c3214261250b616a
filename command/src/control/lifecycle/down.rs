//! Stopping what `lab up` started: `lab down`, and the roll-back of an `up`
//! that failed half-way.

use std::time::Duration;

use super::lock::lock;
use crate::control::error::LabError;
use crate::control::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::services::process;

/// What `lab down` stopped.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Services that were stopped, with whether they had to be killed.
    pub stopped: Vec<(&'static str, bool)>,
    /// Services given by URL, left running.
    pub left_alone: Vec<&'static str>,
}

/// Stops the services `lab up` started and removes the state file. Data stays.
pub fn down(config: &Config) -> Result<Option<DownReport>, LabError> {
    let _lock = lock(config)?;
    let Some(state) = LabState::load(config)? else {
        return Ok(None);
    };
    let mut report = DownReport::default();
    for (name, record) in state.services() {
        match record.pid {
            // Redis writes its append-only file and the MongoDB server
            // checkpoints WiredTiger on SIGTERM; both get time to finish.
            Some(pid) => report.stopped.push((
                name,
                process::terminate(pid, &record.program, Duration::from_secs(30)),
            )),
            None => report.left_alone.push(name),
        }
    }
    LabState::retire(config)?;
    Ok(Some(report))
}

/// Undoes a failed `lab up`: stops every process recorded now that `before`
/// (the state when that `up` began; `None` when the lab was down) did not
/// have running, and records `before` again. Servers given by URL are left
/// alone. So an `up` whose API, worker or Jupyter step fails leaves the lab
/// as it found it, not half started.
pub fn roll_back(config: &Config, before: Option<&LabState>) -> Result<(), LabError> {
    let _lock = lock(config)?;
    let Some(now) = LabState::load(config)? else {
        return Ok(());
    };
    let was_running = |name: &str, record: &ServiceRecord| {
        before.is_some_and(|before| {
            before
                .services()
                .iter()
                .any(|(n, r)| *n == name && r.pid == record.pid && r.is_alive())
        })
    };
    for (name, record) in now.services() {
        if let Some(pid) = record.pid
            && !was_running(name, record)
        {
            process::terminate(pid, &record.program, Duration::from_secs(30));
        }
    }
    let alive = |record: &Option<ServiceRecord>| record.clone().filter(ServiceRecord::is_alive);
    // A server of `before` that had died was replaced and the replacement is
    // stopped above; one that still runs stays recorded, so `lab status` and
    // `lab down` keep finding it.
    match before {
        Some(before) => LabState {
            notebooks: alive(&before.notebooks),
            api: alive(&before.api),
            worker: alive(&before.worker),
            ..before.clone()
        }
        .save(config)?,
        None => LabState::retire(config)?,
    }
    Ok(())
}
