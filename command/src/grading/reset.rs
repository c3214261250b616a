//! `lab reset`: exercise files put back as they were at the start, and
//! their gradings forgotten.

use std::path::PathBuf;

use super::catalog::{Catalog, Exercise};
use super::confirm::Consent;
use super::pristine::{self, PristineError};
use super::progress::{Progress, ProgressError};
use lab::config::Config;

/// An exercise could not be reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// An original could not be found or a file could not be written.
    #[error(transparent)]
    Pristine(#[from] PristineError),
    /// The files were put back but the progress file could not be updated.
    #[error("the files were put back, but their old gradings are still recorded: {0}")]
    Progress(#[from] ProgressError),
}

/// Puts the files of `exercises` back as they were at the start and forgets
/// their gradings (a revealed answer key stays recorded). Returns the
/// files written.
///
/// Every original is found before any file is written, so an exercise whose
/// original cannot be found leaves all of them as they were.
pub fn reset(
    config: &Config,
    catalog: &Catalog,
    exercises: &[&Exercise],
    _consent: Consent,
) -> Result<Vec<PathBuf>, ResetError> {
    let originals = exercises
        .iter()
        .map(|exercise| pristine::original(catalog, exercise).map(|bytes| (*exercise, bytes)))
        .collect::<Result<Vec<_>, _>>()?;
    let written = originals
        .iter()
        .map(|(exercise, bytes)| pristine::put_back(catalog, exercise, bytes))
        .collect::<Result<Vec<_>, _>>()?;
    Progress::update(config, |progress| {
        for exercise in exercises {
            progress.forget_grading(&exercise.id);
        }
    })?;
    Ok(written)
}
