//! Running each exercise's graded tests and scoring them.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::catalog::{Catalog, Exercise};
use super::compile::{self, CompileError, Flavor};
use super::libtest;
use super::report::{ExerciseResult, Report, Status, TestResult};

/// Grades `selected` exercises (all of them when empty) from the `flavor` tree.
pub async fn grade(
    catalog: &Catalog,
    flavor: Flavor,
    selected: &[&str],
) -> Result<Report, GradeError> {
    let exercises: Vec<&Exercise> = if selected.is_empty() {
        catalog.exercises.iter().collect()
    } else {
        selected
            .iter()
            .map(|id| catalog.find(id))
            .collect::<Result<_, _>>()?
    };
    let (present, missing): (Vec<&Exercise>, Vec<&Exercise>) = exercises
        .iter()
        .partition(|exercise| flavor.file_of(exercise, &catalog.root).is_file());
    let compiled = compile::compile(catalog, flavor, &present).await?;
    let compile_seconds = compiled.elapsed.as_secs_f64();

    // Each exercise's tests run in a process of their own, several at once;
    // the results keep the catalogue's order.
    let compiled = &compiled;
    let missing = &missing;
    let results: Vec<ExerciseResult> = stream::iter(exercises)
        .map(|exercise| async move {
            if missing.contains(&exercise) {
                let file = flavor.file_of(exercise, &catalog.root);
                let message = format!(
                    "{} is missing; bring it back with `cargo lab reset {}`",
                    file.display(),
                    exercise.id
                );
                return Ok(unrun(exercise, Status::NotStarted, &message));
            }
            if let Some(error) = compiled.errors.get(&exercise.id) {
                return Ok(ExerciseResult {
                    compile_seconds,
                    ..unrun(exercise, Status::CompileError, error)
                });
            }
            let executable = compiled.executable.as_deref().ok_or_else(|| {
                GradeError::Compile(CompileError::Build(
                    "the test binary was not produced".into(),
                ))
            })?;
            let prefix = format!("{}::", exercise.graded_module_path());
            let mut result = run(catalog, exercise, executable, &prefix).await?;
            result.compile_seconds = compile_seconds;
            Ok::<_, GradeError>(result)
        })
        .buffered(concurrent_runs())
        .try_collect()
        .await?;
    Ok(Report::new(results))
}

/// Grading could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The catalogue is unusable or an id is unknown.
    #[error(transparent)]
    Catalog(#[from] super::catalog::CatalogError),
    /// The build failed for a reason outside the exercises.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The module trees, graded suites or README tables disagree with the
    /// catalogue (`lab check-exercises` checks this before compiling).
    #[error(transparent)]
    Declarations(#[from] super::declarations::DeclarationError),
    /// A test binary could not be started.
    #[error("cannot run the tests: {0}")]
    Run(std::io::Error),
}

/// How many test binaries run at once while grading: one per core, at
/// least two and at most four. A graded test spends most of its time
/// waiting for the servers it starts (0.6 s of which 0.36 s of processor
/// time for a Redis exercise), so two at once nearly halve the time even
/// on two cores. Four at once on two cores once saw a test's fresh Redis
/// connection broken (one run of 275), so no more than one per core.
pub(super) fn concurrent_runs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.clamp(2, 4)
}

/// Runs one exercise's tests, those under the module path `prefix`
/// (`redis::strings_graded::`) in `executable`, stopping them at the
/// exercise's time limit.
pub(super) async fn run(
    catalog: &Catalog,
    exercise: &Exercise,
    executable: &Path,
    prefix: &str,
) -> Result<ExerciseResult, GradeError> {
    let batch = run_many(catalog, exercise, executable, &[prefix]).await?;
    Ok(batch
        .results
        .into_iter()
        .next()
        .unwrap_or_else(|| unrun(exercise, Status::Failed, "the tests did not run")))
}

/// The results of one test process that ran several copies of an
/// exercise's tests.
pub(super) struct Batch {
    /// One result per module path asked for, in the same order.
    pub results: Vec<ExerciseResult>,
    /// Whether every test of every copy reported a result: `false` when
    /// the process was stopped at the exercise's time limit, or ended
    /// (aborted, exited) before all had run.
    pub complete: bool,
}

/// Runs, in one process of `executable`, the tests of `exercise` under
/// each module path of `prefixes` (one copy of its graded suite each),
/// stopping them all at the exercise's time limit, and scores each copy.
pub(super) async fn run_many(
    catalog: &Catalog,
    exercise: &Exercise,
    executable: &Path,
    prefixes: &[&str],
) -> Result<Batch, GradeError> {
    let started = Instant::now();
    let mut child = Command::new(executable)
        .args(prefixes)
        .args(["--test-threads", "4"])
        .current_dir(&catalog.root)
        // Snapshots are compared, never written, while grading.
        .env("INSTA_UPDATE", "no")
        .env("INSTA_WORKSPACE_ROOT", &catalog.root)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(GradeError::Run)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut output = Vec::new();
    let limit = Duration::from_secs(exercise.timeout_seconds);
    let finished = tokio::time::timeout(limit, async {
        let _ = stdout.read_to_end(&mut output).await;
        child.wait().await
    })
    .await;
    let timed_out = finished.is_err();
    if timed_out {
        // The test process dies, and with it the servers it started.
        let _ = child.kill().await;
    }
    let text = String::from_utf8_lossy(&output);
    let runs = libtest::parse(&text);
    // libtest ends with a summary line unless the process itself died.
    let ended = if timed_out {
        Ended::TimedOut
    } else if text.contains("test result: ") {
        Ended::Normally
    } else {
        Ended::Early
    };
    let test_seconds = started.elapsed().as_secs_f64();
    let complete = !timed_out
        && prefixes.iter().all(|prefix| {
            exercise.tests.iter().all(|graded| {
                runs.iter()
                    .any(|run| run.path.strip_prefix(prefix) == Some(graded.name.as_str()))
            })
        });
    let results = prefixes
        .iter()
        .map(|prefix| score(exercise, &runs, prefix, ended, test_seconds))
        .collect();
    Ok(Batch { results, complete })
}

/// How a test process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// libtest ran every test it was asked for and said so.
    Normally,
    /// Stopped at the exercise's time limit.
    TimedOut,
    /// Died before libtest's summary: an abort, `process::exit`, a stack
    /// overflow.
    Early,
}

/// The result of the copy of `exercise`'s tests under `prefix`, from what
/// the test process reported.
fn score(
    exercise: &Exercise,
    runs: &[libtest::TestRun],
    prefix: &str,
    ended: Ended,
    test_seconds: f64,
) -> ExerciseResult {
    let timed_out = ended == Ended::TimedOut;
    let tests: Vec<TestResult> = exercise
        .tests
        .iter()
        .map(|graded| {
            let run = runs
                .iter()
                .find(|run| run.path.strip_prefix(prefix) == Some(graded.name.as_str()));
            match run {
                Some(run) if run.passed => TestResult {
                    name: graded.name.clone(),
                    status: Status::Passed,
                    points: graded.points,
                    message: None,
                },
                Some(run) => failed(
                    &graded.name,
                    Status::Failed,
                    run.message.clone().unwrap_or_default(),
                ),
                None if timed_out => failed(
                    &graded.name,
                    Status::TimedOut,
                    format!(
                        "stopped after {} s: is there an endless loop, or a wait that never ends?",
                        exercise.timeout_seconds
                    ),
                ),
                None if ended == Ended::Early => failed(
                    &graded.name,
                    Status::Failed,
                    "the test process died before this test finished: does the code abort, \
                     call `std::process::exit`, or recurse without end?"
                        .to_owned(),
                ),
                None => failed(
                    &graded.name,
                    Status::Failed,
                    "the test did not run; was it renamed or removed?".to_owned(),
                ),
            }
        })
        .collect();
    let points = tests.iter().map(|test| test.points).sum();
    let status = if timed_out {
        Status::TimedOut
    } else if tests.iter().all(|test| test.status == Status::Passed) {
        Status::Passed
    } else {
        Status::Failed
    };
    ExerciseResult {
        id: exercise.id.clone(),
        title: exercise.title.clone(),
        points,
        max_points: exercise.max_points(),
        status,
        compile_seconds: 0.0,
        test_seconds,
        tests,
    }
}

fn failed(name: &str, status: Status, message: String) -> TestResult {
    TestResult {
        name: name.to_owned(),
        status,
        points: 0,
        message: Some(message),
    }
}

/// An exercise whose tests did not run, each test carrying `message`.
fn unrun(exercise: &Exercise, status: Status, message: &str) -> ExerciseResult {
    ExerciseResult {
        id: exercise.id.clone(),
        title: exercise.title.clone(),
        points: 0,
        max_points: exercise.max_points(),
        status,
        compile_seconds: 0.0,
        test_seconds: 0.0,
        tests: exercise
            .tests
            .iter()
            .map(|test| failed(&test.name, status, message.to_owned()))
            .collect(),
    }
}
