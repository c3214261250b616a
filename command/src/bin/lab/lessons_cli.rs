//! Printing for `lab notebooks check` and `lab notebooks record`; the work
//! is done in `lab_command::lessons`.

use std::process::ExitCode;

use anyhow::Context;
use lab::Config;
use lab_command::lessons::suite::{self, Action};
use lab_command::lessons::{self, Jupyter};

/// Runs the selected notebooks through Jupyter, each in a fresh kernel
/// against a fresh environment holding the standard data set, and prints
/// each as it ends.
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
    // Each kernel builds against its own copy of the build cache
    // (`suite::kernel_cache_copy`), so notebooks run side by side.
    let jobs = suite::parallelism(config);
    super::say(&format!(
        "running {} in Jupyter",
        suite::describe_set(paths.len(), jobs)
    ));
    let mut all_passed = true;
    suite::in_order(
        paths,
        jobs,
        |path| {
            let (jupyter, scratch) = (&jupyter, &scratch);
            async move {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                super::say(&format!("running {name}"));
                let run =
                    suite::in_jupyter(config, jupyter, &path, scratch, action, &super::say).await;
                (path, run)
            }
        },
        |(path, run)| match (run, action) {
            (Ok(run), Action::Record) => println!("{}", run.summary("recorded")),
            (run, _) => {
                let (report, passed) = suite::verdict(&path, &run);
                println!("{report}");
                all_passed &= passed;
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
