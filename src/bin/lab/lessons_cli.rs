//! Printing for `lab notebooks check` and `lab notebooks record`; the work
//! is done in `lab::lessons`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use lab::Config;
use lab::dataset::SeedSpec;
use lab::lessons::{self, Jupyter, NotebookRun};
use lab::testing::TestEnv;

/// What to do with each notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it and compare with the stored outputs.
    Check,
    /// Run it and store the fresh outputs.
    Record,
}

/// Runs the selected notebooks through Jupyter, each in a fresh kernel
/// against a fresh environment holding the standard data set.
pub async fn notebooks(
    config: &Config,
    only: Option<String>,
    action: Action,
) -> anyhow::Result<ExitCode> {
    let paths = lessons::select(config, only.as_deref())?;
    let jupyter = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Jupyter::ensure(&config, &super::say))
            .await
            .context("preparing Jupyter stopped")??
    };
    let scratch = config.home.join("notebook-runs");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let mut all_passed = true;
    for path in paths {
        eprintln!(
            "lab: running {} in Jupyter",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let mut run = run_fresh(config, &jupyter, &path, &scratch, action).await?;
        if action == Action::Check && run.only_lost_trailing_output() {
            // The kernel published a cell's last lines after reporting it
            // done, and Jupyter stopped listening: a race in the kernel, not
            // a change in the notebook. One more run tells them apart.
            eprintln!(
                "lab: {}: a cell's last output arrived after the cell ended; running it once more",
                run.name
            );
            run = run_fresh(config, &jupyter, &path, &scratch, action).await?;
        }
        match action {
            Action::Check => {
                println!("{}", run.report());
                all_passed &= run.problems().is_empty();
            }
            Action::Record => println!("{}", run.summary("recorded")),
        }
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs one notebook in a fresh kernel against fresh servers.
async fn run_fresh(
    config: &Config,
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    action: Action,
) -> anyhow::Result<NotebookRun> {
    lessons::kernel_cache::repair_configured(config);
    let environment = TestEnv::try_start_with(Some(SeedSpec::standard()))
        .await
        .context("cannot start the notebook's servers")?;
    let variables = environment.variables().to_vec();
    let (jupyter, path, scratch) = (jupyter.clone(), path.to_owned(), scratch.to_owned());
    let run =
        tokio::task::spawn_blocking(move || run_one(&jupyter, &path, &scratch, &variables, action))
            .await
            .context("the notebook's run stopped")??;
    Ok(run)
}

fn run_one(
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    variables: &[(&'static str, String)],
    action: Action,
) -> Result<NotebookRun, lessons::LessonError> {
    match action {
        Action::Check => {
            lessons::check::run_in_jupyter(jupyter, path, scratch, variables).map(|(run, _)| run)
        }
        Action::Record => lessons::record(jupyter, path, scratch, variables),
    }
}
