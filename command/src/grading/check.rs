//! `lab check-exercises`: the course's own quality gate, run by CI.
//!
//! Every exercise must compile untouched and score nothing; every solution
//! must score full marks; every exercise needs points and hints (the
//! catalogue refuses to load otherwise); the test names in the catalogue
//! must be the tests in the suites; the committed exercises must be the
//! recorded originals; no file may sit in the exercise trees without an
//! entry in the catalogue; the module trees, graded suites and README
//! tables must agree with the catalogue ([`super::declarations`], checked
//! first, so a forgotten declaration fails before anything is compiled); and
//! the corpus of wrong and alternative answers
//! (`exercises/corpus/`) must be graded as it should: every wrong answer
//! loses points in the test that names its mistake, every alternative keeps
//! full marks, with at least [`MIN_WRONG`] wrong answers and one
//! alternative per exercise.

use std::path::{Path, PathBuf};

use super::catalog::Catalog;
use super::compile::Flavor;
use super::corpus::{self, Corpus, Kind, Verdict};
use super::declarations;
use super::pristine;
use super::report::{Report, Status};
use super::runner::{self, GradeError};

/// What the check found.
#[derive(Debug)]
pub struct CheckReport {
    /// Each problem, as a sentence saying what to fix. Empty when all is well.
    pub problems: Vec<String>,
    /// The untouched exercises' grades.
    pub exercises: Report,
    /// The answer key's grades.
    pub solutions: Report,
    /// How each answer of the corpus came out.
    pub corpus: Vec<Verdict>,
}

/// The fewest wrong answers the corpus must hold for each exercise.
pub const MIN_WRONG: usize = 3;

/// Runs every check.
pub async fn check(catalog: &Catalog) -> Result<CheckReport, GradeError> {
    // Minutes of compiling would only end in the compiler's version of
    // these problems, or miss them.
    declarations::check(catalog)?;
    let mut problems = Vec::new();
    check_files(catalog, &mut problems);
    check_originals(catalog, &mut problems);
    let exercises = runner::grade(catalog, Flavor::Exercises, &[]).await?;
    let solutions = runner::grade(catalog, Flavor::Solutions, &[]).await?;
    for result in &exercises.exercises {
        if result.status == Status::CompileError {
            problems.push(format!(
                "exercise {} does not compile untouched: {}",
                result.id,
                result.first_message().unwrap_or("")
            ));
        } else if result.points > 0 {
            let passing: Vec<&str> = result
                .tests
                .iter()
                .filter(|t| t.points > 0)
                .map(|t| t.name.as_str())
                .collect();
            problems.push(format!(
                "exercise {} scores {} points untouched; these tests pass without any work: {}",
                result.id,
                result.points,
                passing.join(", ")
            ));
        }
    }
    for result in &solutions.exercises {
        if result.points != result.max_points {
            problems.push(format!(
                "the solution of {} scores {} of {} ({}): {}",
                result.id,
                result.points,
                result.max_points,
                result.status.label(),
                result.first_message().unwrap_or("")
            ));
        }
    }
    let corpus = match Corpus::load(catalog) {
        Ok(loaded) => {
            for exercise in &catalog.exercises {
                let wrong = loaded.count(&exercise.id, Kind::Wrong);
                let alternatives = loaded.count(&exercise.id, Kind::Alternative);
                if wrong < MIN_WRONG || alternatives == 0 {
                    problems.push(format!(
                        "exercises/corpus/{}.toml holds {wrong} wrong and {alternatives} alternative answers; \
                         the suite must be shown to catch at least {MIN_WRONG} mistakes and to accept one other correct answer",
                        exercise.id
                    ));
                }
            }
            let verdicts = corpus::grade(catalog, &loaded).await?;
            for verdict in &verdicts {
                if let Some(problem) = &verdict.problem {
                    problems.push(format!(
                        "corpus answer {}/{}: {problem}",
                        verdict.exercise, verdict.answer
                    ));
                }
            }
            verdicts
        }
        Err(error) => {
            problems.push(error.to_string());
            Vec::new()
        }
    };
    Ok(CheckReport {
        problems,
        exercises,
        solutions,
        corpus,
    })
}

/// Files present, test names matching, nothing stray.
fn check_files(catalog: &Catalog, problems: &mut Vec<String>) {
    let root = &catalog.root;
    for exercise in &catalog.exercises {
        for flavor in [Flavor::Exercises, Flavor::Solutions] {
            let file = flavor.file_of(exercise, root);
            if !file.is_file() {
                problems.push(format!("{} is missing ({})", file.display(), exercise.id));
            }
        }
        let graded = exercise.graded_file(root);
        let Ok(text) = std::fs::read_to_string(&graded) else {
            problems.push(format!("{} is missing ({})", graded.display(), exercise.id));
            continue;
        };
        for line in assertions_without_message(&text) {
            problems.push(format!(
                "{}:{line}: an assertion without a message; say what the student's code did wrong \
                 and how to fix it, in the lesson's words",
                graded.display()
            ));
        }
        let found = test_names(&text);
        for test in &exercise.tests {
            if !found.contains(&test.name) {
                problems.push(format!(
                    "{}: the catalogue grades {:?}, which {} does not define",
                    exercise.id,
                    test.name,
                    graded.display()
                ));
            }
        }
        for name in &found {
            if exercise.points_of(name).is_none() {
                problems.push(format!(
                    "{}: test {name:?} in {} has no points in the catalogue",
                    exercise.id,
                    graded.display()
                ));
            }
        }
    }
    let known: Vec<PathBuf> = catalog
        .exercises
        .iter()
        .flat_map(|e| {
            [
                e.exercise_file(root),
                e.solution_file(root),
                e.graded_file(root),
            ]
        })
        .collect();
    for dir in [
        root.join("exercises/src"),
        root.join("solutions/src"),
        root.join("tests/graded"),
    ] {
        for file in rust_files(&dir) {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let module_file = name == "lib.rs" || name == "mod.rs";
            if !module_file && !known.contains(&file) {
                problems.push(format!(
                    "{} is not an exercise in exercises/exercises.toml; add it there or remove it",
                    file.display()
                ));
            }
        }
    }
}

/// The committed exercise files are the recorded originals.
fn check_originals(catalog: &Catalog, problems: &mut Vec<String>) {
    let recorded = match pristine::recorded(&catalog.root) {
        Ok(recorded) => recorded,
        Err(error) => return problems.push(error.to_string()),
    };
    for exercise in &catalog.exercises {
        let bytes = std::fs::read(exercise.exercise_file(&catalog.root)).unwrap_or_default();
        if recorded.get(&exercise.id) != Some(&pristine::fingerprint(&bytes)) {
            problems.push(format!(
                "exercise {} differs from its recorded original; if you changed it on purpose, run `cargo lab check-exercises --record`",
                exercise.id
            ));
        }
    }
}

/// The lines of `text` where an `assert!`, `assert_eq!` or `assert_ne!`
/// has no message argument: a failure a student would see only as
/// "assertion failed".
fn assertions_without_message(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (name, needed) in [("assert!(", 2), ("assert_eq!(", 3), ("assert_ne!(", 3)] {
        let mut from = 0;
        while let Some(found) = text[from..].find(name) {
            let start = from + found;
            from = start + name.len();
            let preceded = text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if preceded {
                continue;
            }
            if top_level_arguments(&text[from..]) < needed {
                lines.push(text[..start].matches('\n').count() + 1);
            }
        }
    }
    lines.sort_unstable();
    lines
}

/// How many arguments a macro call has, `rest` starting just after its
/// opening parenthesis: commas outside nested brackets and strings, plus
/// one, a trailing comma not counted.
fn top_level_arguments(rest: &str) -> usize {
    let (mut depth, mut count, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    let mut pending = false;
    for c in rest.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                pending = true;
            }
            '(' | '[' | '{' => {
                depth += 1;
                pending = true;
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                if pending {
                    count += 1;
                }
                pending = false;
            }
            c if !c.is_whitespace() => pending = true,
            _ => {}
        }
    }
    count + usize::from(pending)
}

/// Names of the functions marked `#[test]` or `#[tokio::test]` in `text`.
fn test_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut marked = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            marked = true;
        } else if marked && let Some(rest) = line.split("fn ").nth(1) {
            names.push(rest.split('(').next().unwrap_or_default().trim().to_owned());
            marked = false;
        }
    }
    names
}

/// The `.rs` files under `dir`, sorted, so what is reported about them
/// comes in a stable order.
pub(super) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::test_names;

    #[test]
    fn assertions_without_a_message_are_found() {
        let text = "assert!(a);\nassert!(b, \"why\");\nassert_eq!(f(x, y), [1, 2]);\n\
                    assert_eq!(x, y, \"because {}\", z);\nassert_eq!(\n    x,\n    y,\n);\n\
                    debug_assert!(c);\n";
        assert_eq!(super::assertions_without_message(text), [1, 3, 5]);
    }

    #[test]
    fn test_functions_are_found_by_their_attribute() {
        let text =
            "#[tokio::test]\nasync fn counts_visits() {}\nfn helper() {}\n#[test]\nfn plain() {}\n";
        assert_eq!(test_names(text), ["counts_visits", "plain"]);
    }
}
