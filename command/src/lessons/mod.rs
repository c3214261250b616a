//! The lessons: notebooks as files, the lab's own Jupyter, and the checks
//! that every notebook runs top to bottom and still prints what it shows.
//!
//! - [`ipynb`]: reading and writing notebook files.
//! - [`outputs`]: a cell's outputs in a comparable form.
//! - [`jupyter`]: the virtual environment, the evcxr kernel, headless runs.
//! - [`kernel_cache`]: keeping the kernel's build cache valid across kernels.
//! - [`kernel_slots`]: build folders that outlive a kernel, so the next
//!   kernel's first cell finds the dependencies compiled.
//! - [`private_cache`]: a kernel's own copy of that cache, so that checked
//!   kernels build side by side.
//! - [`check`]: judging a run against the stored outputs.
//! - [`suite`]: running a set of notebooks, several at once, each in a
//!   fresh kernel against fresh servers.
//!
//! `cargo test` runs the same judgement with the evcxr crate
//! (`tests/notebooks/`); `lab notebooks check` runs it through real Jupyter.

pub mod check;
pub mod ipynb;
pub mod jupyter;
pub mod kernel_cache;
pub mod kernel_slots;
pub mod outputs;
pub mod private_cache;
pub mod suite;

use std::path::{Path, PathBuf};

use lab::config::Config;
use lab::services::ToolError;

pub use check::{CellRun, NotebookRun};
pub use ipynb::{CodeCell, Notebook, VOLATILE_TAG};
pub use jupyter::Jupyter;
pub use outputs::CellOutput;

/// The folder with the course's notebooks.
pub fn notebooks_dir(config: &Config) -> PathBuf {
    config.repository().join("notebooks")
}

/// The notebooks to work on: all of them, or those whose name starts with
/// `only` (`01`, `01-redis-basics`).
pub fn select(config: &Config, only: Option<&str>) -> Result<Vec<PathBuf>, LessonError> {
    let all = ipynb::discover(&notebooks_dir(config))?;
    let Some(only) = only else {
        return Ok(all);
    };
    let chosen: Vec<PathBuf> = all
        .iter()
        .filter(|path| {
            path.file_stem()
                .is_some_and(|stem| stem.to_string_lossy().starts_with(only))
        })
        .cloned()
        .collect();
    if chosen.is_empty() {
        let names: Vec<String> = all
            .iter()
            .filter_map(|path| path.file_stem())
            .map(|stem| stem.to_string_lossy().into_owned())
            .collect();
        return Err(LessonError::UnknownNotebook {
            name: only.to_owned(),
            known: names.join(", "),
        });
    }
    Ok(chosen)
}

/// Runs `path` through Jupyter and stores the fresh outputs in it, unless a
/// cell failed: a notebook is only ever committed after a clean run.
pub fn record(
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    variables: &[(&str, String)],
) -> Result<NotebookRun, LessonError> {
    let (run, executed) = check::run_in_jupyter(jupyter, path, scratch, variables)?;
    let failures: Vec<String> = run
        .cells
        .iter()
        .filter_map(|cell| {
            cell.fresh
                .error
                .as_ref()
                .map(|error| format!("{}: {error}", cell.cell.label()))
        })
        .collect();
    if !failures.is_empty() {
        return Err(LessonError::CellsFailed {
            notebook: run.name.clone(),
            failures,
        });
    }
    let mut notebook = Notebook::load(path)?;
    notebook.take_outputs(&executed)?;
    notebook.save()?;
    Ok(run)
}

/// Why a lesson could not be checked or recorded.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// A file could not be read or written, or a program not started.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A notebook file is not valid.
    #[error("{} is not a valid notebook: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No notebook has that name.
    #[error("no notebook is called `{name}`; the notebooks are: {known}")]
    UnknownNotebook {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// A program the lessons need is missing.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The Rust kernel is not registered with Jupyter.
    #[error("{reason}; register it with: {fix}")]
    Kernel {
        /// What is wrong.
        reason: String,
        /// The command that fixes it.
        fix: String,
    },
    /// Jupyter could not run a notebook at all.
    #[error("Jupyter could not run {}:\n{stderr}", notebook.display())]
    Jupyter {
        /// The notebook.
        notebook: PathBuf,
        /// The end of what Jupyter printed.
        stderr: String,
    },
    /// The servers a notebook runs against could not be started.
    #[error("cannot start the notebook's servers: {0}")]
    Environment(#[source] lab::testing::HarnessError),
    /// A run stopped before it could report.
    #[error("{what} stopped: {reason}")]
    Stopped {
        /// What was running.
        what: &'static str,
        /// Why it stopped.
        reason: String,
    },
    /// Cells failed, so the notebook was not recorded.
    #[error("{notebook} was not recorded because cells failed:\n  {}", failures.join("\n  "))]
    CellsFailed {
        /// The notebook.
        notebook: String,
        /// One line per failed cell.
        failures: Vec<String>,
    },
}
