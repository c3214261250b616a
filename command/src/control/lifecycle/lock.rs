//! The lock file that keeps two `lab` commands from starting or stopping
//! services at once.

use std::fs::File;

use crate::control::error::LabError;
use lab::config::Config;

/// Keeps two `lab` commands from starting or stopping services at once.
pub(in crate::control) fn lock(config: &Config) -> Result<File, LabError> {
    let path = config.home.join("lab.lock");
    let file = std::fs::create_dir_all(&config.home)
        .and_then(|()| File::create(&path))
        .map_err(|source| LabError::Io {
            context: format!("cannot create {}", path.display()),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(LabError::Busy),
    }
}
