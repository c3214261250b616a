//! Running a set of notebooks the way both notebook checks do: each in a
//! fresh kernel against a fresh test environment holding the standard data
//! set, several at once, reported in the notebooks' order.
//!
//! A notebook's run waits on one core most of the time (a fresh kernel's
//! first cell, then one compilation per cell), so on a machine with more
//! cores than that, notebooks side by side finish the set sooner. Each has
//! its own Redis server and its own MongoDB database, so they cannot see
//! each other's data.

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;

use super::check::{NotebookRun, run_in_jupyter};
use super::jupyter::Jupyter;
use super::{LessonError, kernel_cache, record};
use crate::config::Config;
use crate::dataset::SeedSpec;
use crate::testing::TestEnv;

/// The most notebooks run at once when `LAB_NOTEBOOK_JOBS` is unset: each
/// kernel takes about 1.5 GB of memory while it compiles.
const DEFAULT_MOST_JOBS: usize = 4;

/// The gap between the starts of the first notebooks of a set. Kernels that
/// start together copy the same entries out of the kernel's build cache at
/// the same moments, and the evcxr cache is not written for concurrent use
/// (an entry's hit counter is rewritten in place); later notebooks start
/// whenever an earlier one ends, which spreads them out on its own.
const STAGGER: Duration = Duration::from_secs(10);

/// How many notebooks run at once: `LAB_NOTEBOOK_JOBS`, else one per core
/// up to four.
pub fn parallelism(config: &Config) -> NonZeroUsize {
    config.notebook_jobs.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        NonZeroUsize::new(cores.min(DEFAULT_MOST_JOBS)).unwrap_or(NonZeroUsize::MIN)
    })
}

/// Runs `run` on each of `paths`, up to `jobs` at once, and hands each
/// result to `report` in the order of `paths`, as soon as it and every one
/// before it are done.
pub async fn in_order<T, F, Fut>(
    paths: Vec<PathBuf>,
    jobs: NonZeroUsize,
    run: F,
    report: impl FnMut(T),
) where
    F: FnMut(PathBuf) -> Fut,
    Fut: Future<Output = T>,
{
    in_order_staggered(paths, jobs, STAGGER, run, report).await;
}

/// [`in_order`], with the first `jobs` runs started `stagger` apart.
async fn in_order_staggered<T, F, Fut>(
    paths: Vec<PathBuf>,
    jobs: NonZeroUsize,
    stagger: Duration,
    mut run: F,
    mut report: impl FnMut(T),
) where
    F: FnMut(PathBuf) -> Fut,
    Fut: Future<Output = T>,
{
    let jobs = jobs.get();
    let mut results = futures_util::stream::iter(paths.into_iter().enumerate())
        .map(|(index, path)| {
            let delay = if index < jobs {
                stagger * u32::try_from(index).unwrap_or(u32::MAX)
            } else {
                Duration::ZERO
            };
            let work = run(path);
            async move {
                tokio::time::sleep(delay).await;
                (index, work.await)
            }
        })
        // Unordered, so a slot is free as soon as its notebook ends, even
        // while an earlier one still runs; the order is restored below.
        .buffer_unordered(jobs);
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    while let Some((index, result)) = results.next().await {
        waiting.insert(index, result);
        while let Some(result) = waiting.remove(&next) {
            report(result);
            next += 1;
        }
    }
}

/// A fresh environment for one notebook: its own Redis server and its own
/// MongoDB database with the standard data set. The kernel's build cache is
/// repaired first (see [`kernel_cache`]).
pub async fn fresh_environment(config: &Config) -> Result<TestEnv, LessonError> {
    kernel_cache::repair_configured(config);
    TestEnv::try_start_with(Some(SeedSpec::standard()))
        .await
        .map_err(LessonError::Environment)
}

/// What the Jupyter check does with a notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it and compare with the stored outputs.
    Check,
    /// Run it and store the fresh outputs.
    Record,
}

/// Runs `path` through Jupyter in a fresh kernel against a fresh
/// environment ([`fresh_environment`]), writing the executed copy into
/// `scratch`, and checks or records it.
///
/// A check that failed only because a cell's last lines were lost is run
/// once more: the kernel can publish a cell's last lines after reporting
/// it done, when Jupyter has stopped listening. That is a race in the
/// kernel, not a change in the notebook, and a second run tells them apart.
/// `say` hears about it.
pub async fn in_jupyter(
    config: &Config,
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    action: Action,
    say: &(dyn Fn(&str) + Sync),
) -> Result<NotebookRun, LessonError> {
    let run = in_jupyter_once(config, jupyter, path, scratch, action).await?;
    if action == Action::Check && run.only_lost_trailing_output() {
        say(&format!(
            "{}: a cell's last output arrived after the cell ended; running it once more",
            run.name
        ));
        return in_jupyter_once(config, jupyter, path, scratch, action).await;
    }
    Ok(run)
}

async fn in_jupyter_once(
    config: &Config,
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    action: Action,
) -> Result<NotebookRun, LessonError> {
    let environment = fresh_environment(config).await?;
    let variables = environment.variables().to_vec();
    let (jupyter, path, scratch) = (jupyter.clone(), path.to_owned(), scratch.to_owned());
    let run = tokio::task::spawn_blocking(move || match action {
        Action::Check => run_in_jupyter(&jupyter, &path, &scratch, &variables).map(|(run, _)| run),
        Action::Record => record(&jupyter, &path, &scratch, &variables),
    })
    .await
    .map_err(|error| LessonError::Stopped {
        what: "the notebook's run",
        reason: error.to_string(),
    })?;
    environment.close().await;
    run
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    /// Runs `names` `jobs` at a time; each run notes how many ran at once.
    /// The first run ends only once the last has ended, so the set finishes
    /// only if a slot is reused while an earlier notebook still runs.
    async fn run_set(names: &[&str], jobs: usize) -> (Vec<PathBuf>, usize) {
        let last = PathBuf::from(names[names.len() - 1]);
        let first = PathBuf::from(names[0]);
        let last_ended = Arc::new(Notify::new());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut reported = Vec::new();
        let set = in_order_staggered(
            paths(names),
            NonZeroUsize::new(jobs).unwrap(),
            Duration::ZERO,
            |path| {
                let (last_ended, running, most) =
                    (last_ended.clone(), running.clone(), most.clone());
                let (first, last) = (first.clone(), last.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    if path == first && jobs > 1 {
                        last_ended.notified().await;
                    }
                    tokio::task::yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if path == last {
                        last_ended.notify_one();
                    }
                    path
                }
            },
            |path| reported.push(path),
        );
        tokio::time::timeout(Duration::from_secs(30), set)
            .await
            .expect("a slot stayed taken by a finished run while the first still ran");
        (reported, most.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn results_come_in_order_while_slots_are_reused() {
        let names = ["a", "b", "c", "d"];
        let (reported, most) = run_set(&names, 2).await;
        assert_eq!(reported, paths(&names));
        assert_eq!(most, 2);
    }

    #[tokio::test]
    async fn one_job_runs_the_notebooks_one_after_another() {
        let names = ["a", "b", "c"];
        let (reported, most) = run_set(&names, 1).await;
        assert_eq!(reported, paths(&names));
        assert_eq!(most, 1);
    }

    #[test]
    fn the_configured_number_of_jobs_wins() {
        let mut config = Config::for_home("/nowhere", Vec::new());
        config.notebook_jobs = NonZeroUsize::new(3);
        assert_eq!(parallelism(&config).get(), 3);
        config.notebook_jobs = None;
        assert!((1..=DEFAULT_MOST_JOBS).contains(&parallelism(&config).get()));
    }
}
