//! The billing API in `lab up`: `lab serve` started as a helper process on
//! port 8000 (or `LAB_API_PORT`, or a free one), recorded in the state file.

use std::ffi::OsString;
use std::time::Duration;

use super::error::LabError;
use super::helpers::{self, Helper, HelperPlan};
use super::state::ServiceRecord;
use crate::config::Config;

/// Starts `lab serve` unless the recorded one still runs. `lab` is the path
/// of the `lab` program (the running one, for `lab up`).
pub async fn open(
    config: &Config,
    lab: std::path::PathBuf,
    say: &dyn Fn(&str),
) -> Result<ServiceRecord, LabError> {
    let plan = HelperPlan {
        helper: Helper::Api,
        service: "the billing API",
        program: lab,
        preferred_port: config.api_port,
        dir: config.service_dir("api"),
        log_name: "api.log",
        startup_timeout: Duration::from_secs(30),
        arguments: Box::new(|port: u16| {
            ["serve", "--port", &port.to_string()]
                .map(OsString::from)
                .to_vec()
        }),
        url: Box::new(|port| format!("http://127.0.0.1:{port}")),
    };
    helpers::start(config, plan, say).await
}
