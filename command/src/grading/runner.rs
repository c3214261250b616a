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
    // the results keep the order the exercises were asked for in.
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

/// How many test processes run at once while grading: one per core, two
/// on a single core, at most four. A graded test spends most of its time
/// waiting for the servers it starts (a Redis exercise's tests take 0.6 s,
/// 0.36 s of it processor time), so two at once nearly halve the time on
/// two cores. With `REDIS_URL` set, one: each test then leases one of the
/// server's 15 numbered databases, and one process's four test threads
/// are what that server was sized for.
pub(super) fn concurrent_runs() -> usize {
    let shared_redis = !lab::Config::from_env().is_ok_and(|config| config.redis_url.is_none());
    if shared_redis {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.clamp(2, 4)
}

/// How many tests each test process runs at once.
const TEST_THREADS: u64 = 4;

/// Runs one exercise's tests, those under the module path `prefix`
/// (`redis::strings_graded::`) in `executable`, stopping them at the
/// exercise's time limit.
pub(super) async fn run(
    catalog: &Catalog,
    exercise: &Exercise,
    executable: &Path,
    prefix: &str,
) -> Result<ExerciseResult, GradeError> {
    let limit = Duration::from_secs(exercise.timeout_seconds);
    let output = execute(catalog, executable, &[prefix], limit).await?;
    Ok(score(exercise, &output, prefix).0)
}

/// Runs, in one process of `executable`, the tests of `exercise` under
/// each module path of `prefixes` (one copy of its graded suite each),
/// and scores each copy: its result, and whether that result is complete
/// (`false` when the process was stopped or died before one of its tests
/// finished or before printing its failures' messages, and when a test did
/// not run at all). The time limit grows with the number of copies: one
/// exercise's limit for each [`TEST_THREADS`] copies, up to four.
pub(super) async fn run_many(
    catalog: &Catalog,
    exercise: &Exercise,
    executable: &Path,
    prefixes: &[&str],
) -> Result<Vec<(ExerciseResult, bool)>, GradeError> {
    if prefixes.is_empty() {
        // No filter would run every test in the binary.
        return Ok(Vec::new());
    }
    let rounds = (prefixes.len() as u64).div_ceil(TEST_THREADS).min(4);
    let limit = Duration::from_secs(exercise.timeout_seconds * rounds);
    let output = execute(catalog, executable, prefixes, limit).await?;
    Ok(prefixes
        .iter()
        .map(|prefix| score(exercise, &output, prefix))
        .collect())
}

/// What one test process reported.
struct Output {
    /// Each test that finished.
    runs: Vec<libtest::TestRun>,
    /// How the process ended.
    ended: Ended,
    /// How long it ran.
    seconds: f64,
}

/// How a test process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It printed libtest's summary line: every test it started finished
    /// (a test that was renamed or removed simply never started).
    Normally,
    /// Stopped at the time limit.
    TimedOut,
    /// Died before libtest's summary: an abort, `process::exit`, a stack
    /// overflow.
    Early,
}

/// Runs the tests under `prefixes` in one process of `executable`,
/// stopping it after `limit`.
async fn execute(
    catalog: &Catalog,
    executable: &Path,
    prefixes: &[&str],
    limit: Duration,
) -> Result<Output, GradeError> {
    let started = Instant::now();
    let mut child = Command::new(executable)
        .args(prefixes)
        .arg("--test-threads")
        .arg(TEST_THREADS.to_string())
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
    Ok(read_output(
        &String::from_utf8_lossy(&output),
        timed_out,
        started.elapsed().as_secs_f64(),
    ))
}

/// What a test process's standard output `text` says.
fn read_output(text: &str, timed_out: bool, seconds: f64) -> Output {
    let ended = if timed_out {
        Ended::TimedOut
    } else if text.contains("test result: ") {
        Ended::Normally
    } else {
        Ended::Early
    };
    Output {
        runs: libtest::parse(text),
        ended,
        seconds,
    }
}

/// The result of the copy of `exercise`'s tests under `prefix`, from what
/// the test process reported, and whether that result is complete: every
/// one of its tests reported, with the message of each failure.
fn score(exercise: &Exercise, output: &Output, prefix: &str) -> (ExerciseResult, bool) {
    let timed_out = output.ended == Ended::TimedOut;
    let mut all_reported = true;
    let tests: Vec<TestResult> = exercise
        .tests
        .iter()
        .map(|graded| {
            let run = output
                .runs
                .iter()
                .find(|run| run.path.strip_prefix(prefix) == Some(graded.name.as_str()));
            if run.is_none() {
                all_reported = false;
            }
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
                None if output.ended == Ended::Early => failed(
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
    let status = if timed_out && !all_reported {
        Status::TimedOut
    } else if tests.iter().all(|test| test.status == Status::Passed) {
        Status::Passed
    } else {
        Status::Failed
    };
    let result = ExerciseResult {
        id: exercise.id.clone(),
        title: exercise.title.clone(),
        points,
        max_points: exercise.max_points(),
        status,
        compile_seconds: 0.0,
        test_seconds: output.seconds,
        tests,
    };
    // libtest prints a failure's message only at the end, in its summary,
    // so a failure reported by a process that died lacks it.
    let complete = all_reported
        && (output.ended == Ended::Normally
            || result
                .tests
                .iter()
                .all(|test| test.status == Status::Passed));
    (result, complete)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise() -> Exercise {
        Exercise::sample(&["nudge"], &[("counts", 2), ("expires", 2)])
    }

    const ONE_PASSED: &str = "\nrunning 2 tests\ntest a::redis::strings_graded::counts ... ok\n";

    #[test]
    fn a_process_that_died_names_the_likely_cause_for_the_unreported_tests() {
        let output = read_output(ONE_PASSED, false, 1.0);
        assert_eq!(output.ended, Ended::Early);
        let (result, all_reported) = score(&exercise(), &output, "a::redis::strings_graded::");
        assert!(!all_reported);
        assert_eq!(result.points, 2);
        let message = result.tests[1].message.as_deref().unwrap_or("");
        assert!(message.contains("process died"), "{message}");
    }

    #[test]
    fn a_test_missing_from_a_finished_run_was_renamed_or_removed() {
        let text = format!("{ONE_PASSED}\ntest result: ok. 1 passed; 0 failed\n");
        let output = read_output(&text, false, 1.0);
        assert_eq!(output.ended, Ended::Normally);
        let (result, all_reported) = score(&exercise(), &output, "a::redis::strings_graded::");
        assert!(!all_reported);
        assert_eq!(result.status, Status::Failed);
        let message = result.tests[1].message.as_deref().unwrap_or("");
        assert!(message.contains("renamed or removed"), "{message}");
        // Another copy's tests are not this copy's.
        let (other, reported) = score(&exercise(), &output, "b::redis::strings_graded::");
        assert!(!reported);
        assert_eq!(other.points, 0);
    }

    #[test]
    fn a_failure_reported_by_a_process_that_died_is_incomplete() {
        let text = "\ntest a::redis::strings_graded::counts ... FAILED\n\
                    test a::redis::strings_graded::expires ... ok\n";
        let output = read_output(text, false, 1.0);
        let (result, complete) = score(&exercise(), &output, "a::redis::strings_graded::");
        assert!(!complete, "its message was never printed");
        assert_eq!(result.points, 2);
        let finished = format!("{text}\ntest result: FAILED. 1 passed; 1 failed\n");
        let (_, complete) = score(
            &exercise(),
            &read_output(&finished, false, 1.0),
            "a::redis::strings_graded::",
        );
        assert!(complete);
    }

    #[test]
    fn a_stopped_process_marks_the_exercise_timed_out() {
        let output = read_output(ONE_PASSED, true, 10.0);
        let (result, all_reported) = score(&exercise(), &output, "a::redis::strings_graded::");
        assert!(!all_reported);
        assert_eq!(result.status, Status::TimedOut);
        assert_eq!(result.tests[1].status, Status::TimedOut);
    }
}
