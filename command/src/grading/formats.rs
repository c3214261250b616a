//! Grading reports in the formats other tools read: Exercism's test runner
//! `results.json` (version 3) and GitHub Classroom's autograding runner
//! results. `lab grade --format exercism|classroom` writes them.
//!
//! - Exercism (exercism.org's test-runner interface, version 3): a top-level
//!   `version`, `status` (`pass`, `fail` or `error`) and, for `error`, a
//!   `message`; then one entry per test with `name`, `status`, `message`,
//!   `output`, `test_code` and `task_id`. The lab's tasks are its exercises,
//!   numbered from 1 in the order of the course, so an LMS can tie each test
//!   to the exercise it grades.
//! - GitHub Classroom (the runner results its grading reporter reads from
//!   `<RUNNER>_RESULTS`, base64-encoded): `version` 1, `status`,
//!   `max_score`, and per test `name`, `status`, `message`, `test_code`,
//!   `filename`, `line_no`, `execution_time` and `score`.

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::report::{Report, Status};

/// Exercism's limit on a test's `output`, in characters.
const EXERCISM_OUTPUT_LIMIT: usize = 500;

/// The report as Exercism's `results.json`, version 3.
pub fn exercism(report: &Report, catalog: &Catalog) -> String {
    let mut tests = Vec::new();
    for exercise in &report.exercises {
        let source = source_of(catalog, &exercise.id);
        // The exercise's place in the course, whichever exercises were graded.
        let task = catalog
            .exercises
            .iter()
            .position(|e| e.id == exercise.id)
            .map_or(0, |index| index + 1);
        for test in &exercise.tests {
            let message = test.message.as_deref();
            tests.push(json!({
                "name": format!("{} / {}", exercise.id, test.name),
                "status": exercism_status(test.status),
                "message": message,
                "output": message.map(|m| m.chars().take(EXERCISM_OUTPUT_LIMIT).collect::<String>()),
                "test_code": source.as_deref().and_then(|s| function_source(s, &test.name)).unwrap_or_default(),
                "task_id": task,
            }));
        }
    }
    let errors: Vec<String> = report
        .exercises
        .iter()
        .filter(|e| matches!(e.status, Status::CompileError | Status::NotStarted))
        .map(|e| format!("{}: {}", e.id, e.first_message().unwrap_or("")))
        .collect();
    let status = if !errors.is_empty() {
        "error"
    } else if report.score == report.max_score {
        "pass"
    } else {
        "fail"
    };
    let mut results = json!({ "version": 3, "status": status, "tests": tests });
    if status == "error" {
        results["message"] = Value::from(errors.join("\n\n"));
    }
    serde_json::to_string_pretty(&results).expect("results serialise")
}

fn exercism_status(status: Status) -> &'static str {
    match status {
        Status::Passed => "pass",
        Status::Failed | Status::TimedOut => "fail",
        Status::CompileError | Status::NotStarted => "error",
    }
}

/// The report as a GitHub Classroom autograding runner's results.
pub fn classroom(report: &Report, catalog: &Catalog) -> String {
    let mut tests = Vec::new();
    for exercise in &report.exercises {
        let source = source_of(catalog, &exercise.id);
        let filename = catalog
            .find(&exercise.id)
            .ok()
            .map(|e| {
                e.graded_file(&catalog.root)
                    .strip_prefix(&catalog.root)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let per_test = exercise.test_seconds / exercise.tests.len().max(1) as f64;
        for test in &exercise.tests {
            let max_score = catalog
                .find(&exercise.id)
                .ok()
                .and_then(|e| e.points_of(&test.name))
                .unwrap_or(0);
            tests.push(json!({
                "name": format!("{} / {}", exercise.id, test.name),
                "status": exercism_status(test.status),
                "message": test.message,
                "test_code": source.as_deref().and_then(|s| function_source(s, &test.name)).unwrap_or_default(),
                "filename": filename,
                "line_no": source.as_deref().and_then(|s| line_of(s, &test.name)).unwrap_or(0),
                "execution_time": format!("{per_test:.2}s"),
                "score": test.points,
                "max_score": max_score,
            }));
        }
    }
    let status = if report
        .exercises
        .iter()
        .any(|e| e.status == Status::CompileError)
    {
        "error"
    } else if report.score == report.max_score {
        "pass"
    } else {
        "fail"
    };
    let results = json!({
        "version": 1,
        "status": status,
        "max_score": report.max_score,
        "tests": tests,
    });
    serde_json::to_string_pretty(&results).expect("results serialise")
}

/// The graded suite of exercise `id`, as text.
fn source_of(catalog: &Catalog, id: &str) -> Option<String> {
    let exercise = catalog.find(id).ok()?;
    std::fs::read_to_string(exercise.graded_file(&catalog.root)).ok()
}

/// The line (from 1) where test `name` is defined in `source`.
fn line_of(source: &str, name: &str) -> Option<usize> {
    let needle = format!("fn {name}(");
    source
        .lines()
        .position(|line| line.contains(&needle))
        .map(|index| index + 1)
}

/// The text of function `name` in `source`, from `fn` to its closing brace.
pub fn function_source(source: &str, name: &str) -> Option<String> {
    let start = source.find(&format!("fn {name}("))?;
    let start = source[..start]
        .rfind("async ")
        .filter(|&a| a + 6 == start)
        .unwrap_or(start);
    let body = source[start..].find('{')? + start;
    let mut depth = 0usize;
    for (offset, c) in source[body..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(source[start..=body + offset].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::report::{ExerciseResult, TestResult};

    fn catalog() -> Catalog {
        Catalog::load(lab::config::repository_root()).unwrap()
    }

    fn sample(status: Status) -> Report {
        Report::new(vec![ExerciseResult {
            id: "redis-expiry".into(),
            title: "Expiry".into(),
            points: 3,
            max_points: 8,
            status,
            compile_seconds: 1.0,
            test_seconds: 0.3,
            tests: vec![
                TestResult {
                    name: "a_session_is_stored_with_an_expiry".into(),
                    status: Status::Passed,
                    points: 3,
                    message: None,
                },
                TestResult {
                    name: "ttl_answers_are_translated".into(),
                    status: if status == Status::CompileError {
                        status
                    } else {
                        Status::Failed
                    },
                    points: 0,
                    message: Some("TTL answers -2 for a missing key".into()),
                },
            ],
        }])
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn exercism_results_have_version_3_fields() {
        let results: Value =
            serde_json::from_str(&exercism(&sample(Status::Failed), &catalog())).unwrap();
        assert_eq!(keys(&results), ["status", "tests", "version"]);
        assert_eq!(results["version"], 3);
        assert_eq!(results["status"], "fail");
        let test = &results["tests"][1];
        assert_eq!(
            keys(test),
            [
                "message",
                "name",
                "output",
                "status",
                "task_id",
                "test_code"
            ]
        );
        assert_eq!(test["status"], "fail");
        let place = catalog()
            .exercises
            .iter()
            .position(|exercise| exercise.id == "redis-expiry")
            .unwrap()
            + 1;
        assert_eq!(
            test["task_id"], place,
            "task_id is redis-expiry's place in the course"
        );
        assert!(
            test["test_code"]
                .as_str()
                .unwrap()
                .starts_with("async fn ttl_answers_are_translated()")
        );
        assert_eq!(results["tests"][0]["message"], Value::Null);
    }

    #[test]
    fn exercism_reports_a_compile_error_as_an_error_with_a_message() {
        let results: Value =
            serde_json::from_str(&exercism(&sample(Status::CompileError), &catalog())).unwrap();
        assert_eq!(results["status"], "error");
        assert!(
            results["message"]
                .as_str()
                .unwrap()
                .contains("redis-expiry")
        );
    }

    #[test]
    fn classroom_results_have_the_runner_fields_and_scores() {
        let results: Value =
            serde_json::from_str(&classroom(&sample(Status::Failed), &catalog())).unwrap();
        assert_eq!(keys(&results), ["max_score", "status", "tests", "version"]);
        assert_eq!(results["version"], 1);
        assert_eq!(results["max_score"], 8);
        let test = &results["tests"][0];
        assert_eq!(
            keys(test),
            [
                "execution_time",
                "filename",
                "line_no",
                "max_score",
                "message",
                "name",
                "score",
                "status",
                "test_code"
            ]
        );
        assert_eq!(test["score"], 3);
        assert_eq!(test["filename"], "tests/graded/redis/expiry.rs");
        assert!(test["line_no"].as_u64().unwrap() > 0);
        assert_eq!(results["tests"][1]["score"], 0);
    }
}
