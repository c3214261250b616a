//! The server programs the harness starts.

use std::path::PathBuf;

use super::HarnessError;
use crate::config::Config;
use crate::services::{ServiceError, Tool, Toolbox};

/// Where `tool` is, installed first if the lab installs it; progress goes
/// to standard error, as the lab's own commands print it.
pub(super) fn harness_program(config: &Config, tool: Tool) -> Result<PathBuf, HarnessError> {
    Ok(Toolbox::new(config)
        .ensure(tool, &|message| eprintln!("lab: {message}"))
        .map_err(ServiceError::from)?)
}
