//! Running a set of notebooks the way both notebook checks do: each in a
//! fresh kernel against a fresh test environment holding the standard data
//! set, reported in the notebooks' order, several at once.
//!
//! A notebook's run waits on one core most of the time (a fresh kernel's
//! first cell, then one compilation per cell), so on a machine with more
//! cores than that, notebooks side by side finish the set sooner. Each
//! kernel builds against its own view of the build cache
//! ([`kernel_cache_copy`]), since evcxr's is not written for concurrent
//! use, and each has its own MongoDB database and its own Redis server, or,
//! with `REDIS_URL` set, its own numbered database on that server, where
//! what is server-wide (pub/sub, `INFO`, `CONFIG`) is shared;
//! `notebooks/AUTHORS.md` says what notebook code must therefore not rely
//! on.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use super::check::{NotebookRun, run_in_jupyter};
use super::jupyter::Jupyter;
use super::private_cache::PrivateCache;
use super::{LessonError, kernel_cache, record};
use lab::config::Config;
use lab::dataset::SeedSpec;
use lab::testing::TestEnv;

/// The most notebooks run at once when `LAB_NOTEBOOK_JOBS` is unset: each
/// kernel takes about 1.5 GB of memory while it compiles.
const DEFAULT_MOST_JOBS: usize = 4;

/// How many notebooks run at once: `LAB_NOTEBOOK_JOBS`, else one per core
/// up to four.
pub fn parallelism(config: &Config) -> NonZeroUsize {
    config.notebook_jobs.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        NonZeroUsize::new(cores.min(DEFAULT_MOST_JOBS)).unwrap_or(NonZeroUsize::MIN)
    })
}

/// The shared build cache repaired (see [`kernel_cache`]; entries earlier
/// kernels shared name their deleted build folders) and a kernel's own copy
/// of it ([`PrivateCache`]), to give the kernel as `XDG_CACHE_HOME`; `None`
/// when the configuration names no cache (no home folder), where evcxr
/// keeps none either.
pub fn kernel_cache_copy(config: &Config) -> Result<Option<PrivateCache>, LessonError> {
    let Some(shared) = config.kernel_cache.as_deref() else {
        return Ok(None);
    };
    kernel_cache::repair(shared);
    PrivateCache::new(shared)
        .map(Some)
        .map_err(|source| LessonError::Io {
            context: format!(
                "cannot make a kernel's copy of the build cache {}",
                shared.display()
            ),
            source,
        })
}

/// Runs `run` on each of `paths`, up to `jobs` at once, and hands each
/// result to `report` in the order of `paths`, as soon as it and every one
/// before it are done.
pub async fn in_order<T, F, Fut>(
    paths: Vec<PathBuf>,
    jobs: NonZeroUsize,
    mut run: F,
    mut report: impl FnMut(T),
) where
    F: FnMut(PathBuf) -> Fut,
    Fut: Future<Output = T>,
{
    let mut results = futures_util::stream::iter(paths.into_iter().enumerate())
        .map(|(index, path)| {
            let work = run(path);
            async move { (index, work.await) }
        })
        // Unordered, so a slot is free as soon as its notebook ends, even
        // while an earlier one still runs; the order is restored below.
        .buffer_unordered(jobs.get());
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

/// The report of one notebook's check, and whether it passed: the run's
/// report, or the reason it could not run.
pub fn verdict(path: &Path, run: &Result<NotebookRun, impl Display>) -> (String, bool) {
    match run {
        Ok(run) => (run.report(), run.problems().is_empty()),
        Err(error) => (
            format!(
                "notebook {} ... FAILED\n  {error}",
                path.file_stem().unwrap_or_default().to_string_lossy()
            ),
            false,
        ),
    }
}

/// What a set of `count` notebooks run `jobs` at a time is called in a
/// progress line: "12 notebooks, 2 at a time".
pub fn describe_set(count: usize, jobs: NonZeroUsize) -> String {
    let at_once = jobs.get().min(count).max(1);
    match count {
        1 => "1 notebook".to_owned(),
        _ => format!("{count} notebooks, {at_once} at a time"),
    }
}

/// A fresh environment for one notebook: its own Redis server (or numbered
/// database of `REDIS_URL`) and its own MongoDB database with the standard
/// data set.
pub async fn fresh_environment() -> Result<TestEnv, LessonError> {
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
    let environment = fresh_environment().await?;
    let mut variables = environment.variables().to_vec();
    let (jupyter, path, scratch) = (jupyter.clone(), path.to_owned(), scratch.to_owned());
    let config = config.clone();
    let run = tokio::task::spawn_blocking(move || {
        let cache = kernel_cache_copy(&config)?;
        if let Some(cache) = &cache {
            variables.push(("XDG_CACHE_HOME", cache.home().display().to_string()));
        }
        match action {
            Action::Check => {
                run_in_jupyter(&jupyter, &path, &scratch, &variables).map(|(run, _)| run)
            }
            Action::Record => record(&jupyter, &path, &scratch, &variables),
        }
    })
    .await;
    environment.close().await;
    run.map_err(|error| LessonError::Stopped {
        what: "the notebook's run",
        reason: error.to_string(),
    })?
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    use std::time::Duration;

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
        let set = in_order(
            paths(names),
            NonZeroUsize::new(jobs).unwrap(),
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

    #[tokio::test]
    async fn a_notebook_that_could_not_run_fails_with_its_reason() {
        let path = Path::new("/n/04-mongodb-crud.ipynb");
        let run: Result<NotebookRun, &str> = Err("cannot start the notebook's servers");
        let (line, passed) = verdict(path, &run);
        assert!(!passed);
        assert_eq!(
            line,
            "notebook 04-mongodb-crud ... FAILED\n  cannot start the notebook's servers"
        );
        let clean = NotebookRun {
            name: "04-mongodb-crud".to_owned(),
            cells: Vec::new(),
        };
        assert!(verdict(path, &Ok::<_, &str>(clean)).1);
    }

    #[test]
    fn a_set_is_described_by_what_really_runs_at_once() {
        let two = NonZeroUsize::new(2).unwrap();
        assert_eq!(describe_set(12, two), "12 notebooks, 2 at a time");
        assert_eq!(describe_set(1, two), "1 notebook");
        assert_eq!(
            describe_set(3, NonZeroUsize::new(4).unwrap()),
            "3 notebooks, 3 at a time"
        );
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
