//! The `lab` processes `lab up` runs in the background: the billing API
//! (`lab serve`, on port 8000 or `LAB_API_PORT`, or a free one) and a job
//! worker (`lab worker`, whose status port answers with its state and the
//! queue's counts). Both are recorded in the state file and stopped by
//! `lab down`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::error::LabError;
use super::helpers::{self, Helper, HelperPlan};
use super::state::ServiceRecord;
use lab::config::Config;

/// Jobs the worker `lab up` starts runs at once.
pub const WORKER_CONCURRENCY: usize = 4;

/// Starts `lab serve` unless the recorded one still runs. `lab` is the path
/// of the `lab` program (the running one, for `lab up`).
pub async fn open_api(
    config: &Config,
    lab: PathBuf,
    say: &dyn Fn(&str),
) -> Result<ServiceRecord, LabError> {
    let mut plan = lab_plan(
        config,
        lab,
        (Helper::Api, "api", "api.log"),
        "the billing API",
        config.api_port,
        |port| vec!["serve".into(), "--port".into(), port.to_string().into()],
    );
    logs_itself(&mut plan);
    helpers::start(config, plan, say).await
}

/// The helper writes its log itself, to its log file, rotated by size
/// (`lab_command::log_file`): appended standard output alone would grow
/// without bound. Standard output and errors still go there too, for a
/// start-up failure or a crash.
fn logs_itself(plan: &mut HelperPlan) {
    let log_file = plan.dir.join(plan.log_name);
    plan.env.push((
        "LAB_LOG_FILE".to_owned(),
        log_file.to_string_lossy().into_owned(),
    ));
}

/// Starts `lab worker` unless the recorded one still runs.
pub async fn open_worker(
    config: &Config,
    lab: PathBuf,
    say: &dyn Fn(&str),
) -> Result<ServiceRecord, LabError> {
    let mut plan = lab_plan(
        config,
        lab,
        (Helper::Worker, "worker", "worker.log"),
        "the job worker",
        config.api_port.saturating_add(1),
        |port| {
            vec![
                "worker".into(),
                "--concurrency".into(),
                WORKER_CONCURRENCY.to_string().into(),
                "--status-port".into(),
                port.to_string().into(),
            ]
        },
    );
    logs_itself(&mut plan);
    helpers::start(config, plan, say).await
}

/// Running the `lab` program as `helper`: its folder under `LAB_HOME` is
/// `(folder, log file name)`.
fn lab_plan(
    config: &Config,
    lab: PathBuf,
    (helper, folder, log_name): (Helper, &str, &'static str),
    service: &'static str,
    preferred_port: u16,
    arguments: fn(u16) -> Vec<OsString>,
) -> HelperPlan {
    HelperPlan {
        helper,
        service,
        program: lab,
        preferred_port,
        dir: config.service_dir(folder),
        log_name,
        startup_timeout: Duration::from_secs(30),
        arguments: Box::new(arguments),
        url: Box::new(|port| format!("http://127.0.0.1:{port}")),
        env: Vec::new(),
    }
}
