//! The lab's helper processes (Jupyter Lab, the billing API, a job worker): started
//! detached by `lab up`, recorded in the state file beside the servers, and
//! stopped by `lab down`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::error::LabError;
use super::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::running::LocateError;
use lab::services::Lifetime;
use lab::services::launcher::{self, ServerPlan};
use lab::services::process::{self, program_name};

/// Which helper, and where its record lives in the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    /// Jupyter Lab on `notebooks/`.
    Notebooks,
    /// The billing API.
    Api,
    /// A job worker.
    Worker,
}

impl Helper {
    fn slot(self, state: &mut LabState) -> &mut Option<ServiceRecord> {
        match self {
            Helper::Notebooks => &mut state.notebooks,
            Helper::Api => &mut state.api,
            Helper::Worker => &mut state.worker,
        }
    }
}

/// How to start a helper.
pub struct HelperPlan {
    /// Which one.
    pub helper: Helper,
    /// Its name in messages.
    pub service: &'static str,
    /// The program to run.
    pub program: PathBuf,
    /// The port it prefers when free; another free one otherwise.
    pub preferred_port: u16,
    /// Its folder under `LAB_HOME` (the log goes there).
    pub dir: PathBuf,
    /// The log file's name in `dir`.
    pub log_name: &'static str,
    /// How long it may take to answer.
    pub startup_timeout: Duration,
    /// Its arguments, for a port.
    pub arguments: Box<dyn Fn(u16) -> Vec<OsString> + Send + Sync>,
    /// Its URL, for a port.
    pub url: Box<dyn Fn(u16) -> String + Send + Sync>,
    /// Variables added to its environment (secrets go here, not in arguments).
    pub env: Vec<(String, String)>,
}

/// Starts the helper unless the recorded one still runs, and records it.
pub async fn start(
    config: &Config,
    plan: HelperPlan,
    say: &dyn Fn(&str),
) -> Result<ServiceRecord, LabError> {
    let _lock = super::lifecycle::lock(config)?;
    let Some(mut state) = LabState::load(config)? else {
        return Err(LabError::Locate(LocateError::NotRunning {
            variable: "REDIS_URL and MONGODB_URI",
        }));
    };
    if let Some(record) = plan
        .helper
        .slot(&mut state)
        .as_ref()
        .filter(|r| r.is_alive())
    {
        return Ok(record.clone());
    }
    say(&format!("starting {}", plan.service));
    let port = process::port_is_free(plan.preferred_port).then_some(plan.preferred_port);
    let server_plan = ServerPlan {
        service: plan.service,
        program: plan.program.clone(),
        port,
        log_file: plan.dir.join(plan.log_name),
        dir: plan.dir.clone(),
        lifetime: Lifetime::Detached,
        startup_timeout: plan.startup_timeout,
        env: plan.env.clone(),
    };
    let server = launcher::launch(
        &server_plan,
        &plan.arguments,
        &plan.url,
        async |url: &str| match port_of(url) {
            Some(port) => process::port_accepts(port).await,
            None => false,
        },
    )
    .await?;
    let record = ServiceRecord {
        url: server.url().to_owned(),
        pid: server.pid(),
        program: program_name(&plan.program),
        port: Some(server.port()),
        log: Some(server_plan.log_file.clone()),
    };
    *plan.helper.slot(&mut state) = Some(record.clone());
    state.save(config)?;
    server.detach();
    Ok(record)
}

/// The port of `http://127.0.0.1:PORT/...`.
fn port_of(url: &str) -> Option<u16> {
    url.split(':')
        .nth(2)
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_a_helper_url() {
        assert_eq!(port_of("http://127.0.0.1:8888/lab?token=abc"), Some(8888));
        assert_eq!(port_of("http://127.0.0.1:8000"), Some(8000));
        assert_eq!(port_of("nonsense"), None);
    }
}
