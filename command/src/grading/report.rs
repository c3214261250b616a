//! A grading report: what `lab grade` prints and writes as JSON and JUnit.

use serde::Serialize;

/// How an exercise, or one of its tests, came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Every test passed.
    #[serde(rename = "passed")]
    Passed,
    /// At least one test failed.
    #[serde(rename = "failed")]
    Failed,
    /// The exercise does not compile; its tests did not run.
    #[serde(rename = "compile error")]
    CompileError,
    /// Its tests ran past the exercise's time limit and were stopped.
    #[serde(rename = "timed out")]
    TimedOut,
    /// Its file is missing, so there is nothing to grade.
    #[serde(rename = "not started")]
    NotStarted,
}

impl Status {
    /// The word used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::CompileError => "compile error",
            Status::TimedOut => "timed out",
            Status::NotStarted => "not started",
        }
    }
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The test function's name.
    pub name: String,
    /// How it came out (a test is never "not started"; one that did not run
    /// because of its exercise takes the exercise's status).
    pub status: Status,
    /// Points earned: all of them or none.
    pub points: u32,
    /// Why it failed, when it did.
    pub message: Option<String>,
}

/// One exercise's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExerciseResult {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Points earned.
    pub points: u32,
    /// Points available.
    pub max_points: u32,
    /// How it came out.
    pub status: Status,
    /// Time of the build that compiled it (shared by the exercises built together).
    pub compile_seconds: f64,
    /// Time its tests ran.
    pub test_seconds: f64,
    /// Its tests.
    pub tests: Vec<TestResult>,
}

impl ExerciseResult {
    /// The first thing a student should read: the compile error or the first
    /// failing test's message.
    pub fn first_message(&self) -> Option<&str> {
        self.tests.iter().find_map(|test| test.message.as_deref())
    }
}

/// A whole grading run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Points earned.
    pub score: u32,
    /// Points available.
    pub max_score: u32,
    /// Each exercise graded.
    pub exercises: Vec<ExerciseResult>,
}

impl Report {
    /// A report over `exercises`, with the totals computed.
    pub fn new(exercises: Vec<ExerciseResult>) -> Report {
        Report {
            score: exercises.iter().map(|e| e.points).sum(),
            max_score: exercises.iter().map(|e| e.max_points).sum(),
            exercises,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The report as JUnit XML: a test suite per exercise, which CI systems
    /// and LMS importers understand.
    pub fn to_junit(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failures: usize = self
            .exercises
            .iter()
            .flat_map(|e| &e.tests)
            .filter(|t| t.status != Status::Passed)
            .count();
        let tests: usize = self.exercises.iter().map(|e| e.tests.len()).sum();
        xml.push_str(&format!(
            "<testsuites name=\"lab grade\" tests=\"{tests}\" failures=\"{failures}\">\n"
        ));
        for exercise in &self.exercises {
            let failed = exercise
                .tests
                .iter()
                .filter(|t| t.status != Status::Passed)
                .count();
            xml.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\">\n",
                escape(&exercise.id),
                exercise.tests.len(),
                exercise.test_seconds
            ));
            for test in &exercise.tests {
                xml.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\">\n",
                    escape(&exercise.id),
                    escape(&test.name)
                ));
                if test.status != Status::Passed {
                    xml.push_str(&format!(
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                        test.status.label(),
                        escape(
                            test.message
                                .as_deref()
                                .unwrap_or("")
                                .lines()
                                .next()
                                .unwrap_or("")
                        ),
                        escape(test.message.as_deref().unwrap_or(""))
                    ));
                }
                xml.push_str("    </testcase>\n");
            }
            xml.push_str("  </testsuite>\n");
        }
        xml.push_str("</testsuites>\n");
        xml
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report::new(vec![ExerciseResult {
            id: "redis-strings".into(),
            title: "Strings".into(),
            points: 2,
            max_points: 5,
            status: Status::Failed,
            compile_seconds: 1.5,
            test_seconds: 0.25,
            tests: vec![
                TestResult {
                    name: "stores".into(),
                    status: Status::Passed,
                    points: 2,
                    message: None,
                },
                TestResult {
                    name: "counts".into(),
                    status: Status::Failed,
                    points: 0,
                    message: Some("`visits:home` should be 2 <not 1>".into()),
                },
            ],
        }])
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let json: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(json["score"], 2);
        assert_eq!(json["max_score"], 5);
        let exercise = &json["exercises"][0];
        for key in [
            "id",
            "title",
            "points",
            "max_points",
            "status",
            "compile_seconds",
            "test_seconds",
            "tests",
        ] {
            assert!(exercise.get(key).is_some(), "{key} missing");
        }
        assert_eq!(exercise["status"], "failed");
        assert_eq!(
            exercise["tests"][1]["message"],
            "`visits:home` should be 2 <not 1>"
        );
    }

    #[test]
    fn junit_escapes_messages_and_counts_failures() {
        let xml = sample().to_junit();
        assert!(xml.contains("<testsuites name=\"lab grade\" tests=\"2\" failures=\"1\">"));
        assert!(xml.contains("should be 2 &lt;not 1&gt;"));
        assert!(xml.contains("<failure type=\"failed\""));
    }

    #[test]
    fn the_first_message_is_the_first_failure() {
        assert_eq!(
            sample().exercises[0].first_message(),
            Some("`visits:home` should be 2 <not 1>")
        );
    }
}
