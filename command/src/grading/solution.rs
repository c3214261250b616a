//! `lab solution`: an exercise's answer key, shown only with the student's
//! consent, and recorded in the progress file so that `lab list` and
//! `lab grade` say so.
//!
//! Rustlings leaves its solutions folder open; here the key sits behind a
//! question so that looking is a decision, not a slip of the file browser.
//! (A teaching simplification: the files are in the repository all along,
//! so this is a nudge, not a lock.)

use std::path::PathBuf;

use super::catalog::{Catalog, Exercise};
use super::confirm::Consent;
use super::progress::{Moment, Progress, ProgressError};
use lab::config::Config;

/// An answer key, read for showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// Its file, relative to the repository: `solutions/src/redis/strings.rs`.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// The answer key could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum SolutionError {
    /// The answer key's file is missing or unreadable.
    #[error("cannot read the answer key {path}: {source}; it comes with the course repository")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The reveal could not be recorded, so the key is not shown.
    #[error("the answer key is not shown because its reveal cannot be recorded: {0}")]
    Progress(#[from] ProgressError),
}

/// Reads the answer key of `exercise` and records that it was shown.
/// Nothing is recorded if it cannot be read.
pub fn reveal(
    config: &Config,
    catalog: &Catalog,
    exercise: &Exercise,
    _consent: Consent,
) -> Result<Solution, SolutionError> {
    let file = exercise.solution_file(&catalog.root);
    let text = std::fs::read_to_string(&file).map_err(|source| SolutionError::Read {
        path: file.display().to_string(),
        source,
    })?;
    Progress::update(config, |progress| {
        progress.reveal(&exercise.id, Moment::now());
    })?;
    Ok(Solution {
        path: PathBuf::from("solutions/src").join(&exercise.file),
        text,
    })
}
