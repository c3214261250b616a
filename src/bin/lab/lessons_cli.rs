//! Printing for `lab notebooks check` and `lab notebooks record`; the work
//! is done in `lab::lessons`.

use std::process::ExitCode;

use anyhow::Context;
use lab::Config;
use lab::lessons::suite::{self, Action};
use lab::lessons::{self, Jupyter};

/// Runs the selected notebooks through Jupyter, each in a fresh kernel
/// against a fresh environment holding the standard data set, several at
/// once (`LAB_NOTEBOOK_JOBS`), and prints each in the notebooks' order.
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
    let jobs = suite::parallelism(config);
    eprintln!(
        "lab: running {} notebooks in Jupyter, {jobs} at a time",
        paths.len()
    );
    let mut all_passed = true;
    suite::in_order(
        paths,
        jobs,
        |path| {
            let (jupyter, scratch) = (&jupyter, &scratch);
            async move {
                let run =
                    suite::in_jupyter(config, jupyter, &path, scratch, action, &super::say).await;
                (path, run)
            }
        },
        |(path, run)| match (run, action) {
            (Ok(run), Action::Check) => {
                println!("{}", run.report());
                all_passed &= run.problems().is_empty();
            }
            (Ok(run), Action::Record) => println!("{}", run.summary("recorded")),
            (Err(error), _) => {
                println!(
                    "notebook {} ... FAILED\n  {error}",
                    path.file_stem().unwrap_or_default().to_string_lossy()
                );
                all_passed = false;
            }
        },
    )
    .await;
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
