//! Reading the output of a Rust test binary.
//!
//! Stable Rust has no machine-readable test output (`--format json` needs
//! nightly), so the grader reads the human one: a line per finished test,
//! then the captured output of each failure.

use std::collections::HashMap;

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// The test's full path: `redis::strings_graded::counts_visits`.
    pub path: String,
    /// Whether it passed.
    pub passed: bool,
    /// For a failure, what it said when it panicked.
    pub message: Option<String>,
}

/// The tests reported in `output`, in the order they finished.
pub fn parse(output: &str) -> Vec<TestRun> {
    let messages = failure_messages(output);
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (path, verdict) = rest.rsplit_once(" ... ")?;
            let passed = match verdict.trim() {
                "ok" => true,
                "FAILED" => false,
                _ => return None, // ignored, or a benchmark
            };
            Some(TestRun {
                path: path.to_owned(),
                passed,
                message: (!passed).then(|| {
                    messages
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| "the test failed without a message".to_owned())
                }),
            })
        })
        .collect()
}

/// The panic message of each failed test, from its "---- name stdout ----" section.
fn failure_messages(output: &str) -> HashMap<String, String> {
    let mut messages = HashMap::new();
    let mut lines = output.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        else {
            continue;
        };
        let mut section = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("---- ") || *next == "failures:" {
                break;
            }
            section.push(lines.next().unwrap_or_default());
        }
        messages.insert(path.to_owned(), panic_message(path, &section));
    }
    messages
}

/// The text after "panicked at FILE:LINE:COL:" of the panic that failed the
/// test at `path`, without the notes libtest adds.
///
/// libtest runs each test on a thread named after it. The section can also
/// hold panics of threads the test started (a runtime's worker, a driver's
/// clean-up task), which did not decide the verdict; they are skipped unless
/// no panic names the test's own thread.
fn panic_message(path: &str, section: &[&str]) -> String {
    let own_thread = format!("thread '{path}'");
    // The last panic of the test's thread is the one that failed it: a
    // check that catches a panic (a snapshot compared inside
    // `graded_snapshot!`) panics again with its own message.
    let start = section
        .iter()
        .rposition(|line| line.contains(" panicked at ") && line.starts_with(&own_thread))
        .or_else(|| {
            section
                .iter()
                .rposition(|line| line.contains(" panicked at "))
        })
        .map(|index| index + 1)
        .unwrap_or(0);
    let text: Vec<&str> = section[start..]
        .iter()
        .copied()
        .take_while(|line| {
            !line.starts_with("note: ")
                && !line.starts_with("stack backtrace:")
                && !line.contains(" panicked at ")
        })
        .filter(|line| !line.trim().is_empty())
        .collect();
    if text.is_empty() {
        "the test failed without a message".to_owned()
    } else {
        text.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "
running 3 tests
test redis::strings_graded::stores_a_name ... ok
test redis::strings_graded::counts_visits ... FAILED
test redis::strings_graded::later ... ignored

failures:

---- redis::strings_graded::counts_visits stdout ----

thread 'redis::strings_graded::counts_visits' (77) panicked at tests/graded/redis/strings.rs:40:5:
assertion `left == right` failed: `visits:home` should count 2 visits
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    redis::strings_graded::counts_visits

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn passes_failures_and_their_messages_are_read() {
        let runs = parse(OUTPUT);
        assert_eq!(runs.len(), 2, "ignored tests are not counted");
        assert!(runs[0].passed);
        assert_eq!(runs[1].path, "redis::strings_graded::counts_visits");
        assert_eq!(
            runs[1].message.as_deref(),
            Some(
                "assertion `left == right` failed: `visits:home` should count 2 visits\n  left: 1\n right: 2"
            )
        );
    }

    #[test]
    fn a_panic_of_another_thread_after_the_test_failed_is_not_its_message() {
        // The shape of a `graded_snapshot!` failure: insta panics, the check
        // catches it and panics again with its lesson; then the MongoDB
        // driver's clean-up task panics on a runtime worker.
        let output = "
test jobs::waits ... FAILED

failures:

---- jobs::waits stdout ----

thread 'jobs::waits' (12) panicked at insta-1.49.0/src/runtime.rs:1:1:
snapshot assertion for 'waits' failed
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

thread 'jobs::waits' (12) panicked at src/testing/mod.rs:510:9:
what your code left in Redis differs from the answer key's
  left: 1

thread 'tokio-rt-worker' (15) panicked at mongodb-3.9.1/src/cmap/connection_requester.rs:42:14:
called `Result::unwrap()` on an `Err` value: SendError { .. }
";
        let runs = parse(output);
        assert_eq!(
            runs[0].message.as_deref(),
            Some("what your code left in Redis differs from the answer key's\n  left: 1"),
            "the last panic of the test's own thread, up to the next panic"
        );
        let only_other = "
test a::b ... FAILED
---- a::b stdout ----
thread 'tokio-rt-worker' (15) panicked at x.rs:1:1:
the only panic
";
        assert_eq!(
            parse(only_other)[0].message.as_deref(),
            Some("the only panic")
        );
    }

    #[test]
    fn a_backtrace_is_not_part_of_the_message() {
        let output = "
test a::b ... FAILED
---- a::b stdout ----
thread 'a::b' (7) panicked at tests/graded/a.rs:3:5:
a progress event is not the end of the job
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/library/std/src/panicking.rs:689:5
";
        assert_eq!(
            parse(output)[0].message.as_deref(),
            Some("a progress event is not the end of the job")
        );
    }

    #[test]
    fn a_failure_without_output_still_gets_a_message() {
        let runs = parse("test a::b ... FAILED\n");
        assert_eq!(
            runs[0].message.as_deref(),
            Some("the test failed without a message")
        );
    }
}
