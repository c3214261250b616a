//! The catalogue of exercises, `exercises/exercises.toml`: what each exercise
//! is called, where its files are, what each test is worth, and its hints.
//!
//! Hints live here rather than in the exercise files (as in rustlings), so a
//! student sees one only by asking for it with `lab hint`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The most hints an exercise may have.
pub const MAX_HINTS: usize = 3;

/// Every exercise, in the order of the course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The repository's top folder.
    pub root: PathBuf,
    /// The exercises.
    pub exercises: Vec<Exercise>,
}

/// One exercise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Its id, used on the command line: `redis-strings`.
    pub id: String,
    /// Its title in reports.
    pub title: String,
    /// The lesson it belongs to.
    pub lesson: String,
    /// Its file, relative to `exercises/src/` (and `solutions/src/`).
    pub file: String,
    /// Seconds its tests may run before they are stopped.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// How hard it is, if the catalogue says (`lab list` shows it).
    #[serde(default)]
    pub difficulty: Option<Difficulty>,
    /// About how many minutes it takes, if the catalogue says.
    #[serde(default)]
    pub minutes: Option<u32>,
    /// Up to three hints, each more explicit than the last.
    pub hints: Vec<String>,
    /// Its graded tests, with their points.
    pub tests: Vec<GradedTest>,
}

/// How hard an exercise is, as `difficulty = "easy"` in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    /// A first step: one idea, little code.
    Easy,
    /// Several ideas together.
    Medium,
    /// Where the lesson's hard cases are.
    Hard,
}

impl Difficulty {
    /// The word used in listings.
    pub fn label(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

/// A test and what it is worth.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradedTest {
    /// The test function's name.
    pub name: String,
    /// Its points.
    pub points: u32,
}

fn default_timeout() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    exercise: Vec<Exercise>,
}

/// The catalogue could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path} is not a valid catalogue: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        problem: CatalogProblem,
    },
    /// No exercise has the id given on the command line.
    #[error("there is no exercise {id:?}; `cargo lab list` lists them all")]
    UnknownId {
        /// The id given.
        id: String,
    },
}

/// What makes a catalogue's text invalid, for the author to correct in
/// `exercises/exercises.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogProblem {
    /// The text is not TOML of the catalogue's shape (a missing field, an
    /// unknown difficulty).
    #[error("{0}")]
    Syntax(String),
    /// Two exercises have the same id.
    #[error("exercise id {id:?} appears twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// An id holds characters other than a-z, 0-9 and -.
    #[error("exercise id {id:?} may hold only a-z, 0-9 and -")]
    BadId {
        /// The id.
        id: String,
    },
    /// An exercise's file is not a relative path to a `.rs` file.
    #[error("{id}: file {file:?} must be a relative path to a .rs file")]
    BadFile {
        /// The exercise.
        id: String,
        /// The file given.
        file: String,
    },
    /// An exercise has no hint, or more than [`MAX_HINTS`].
    #[error("{id}: an exercise has from 1 to {MAX_HINTS} hints")]
    HintCount {
        /// The exercise.
        id: String,
    },
    /// A hint is blank.
    #[error("{id}: a hint is empty")]
    EmptyHint {
        /// The exercise.
        id: String,
    },
    /// An exercise has no test, or a test worth no points.
    #[error("{id}: every exercise has tests, and every test is worth points")]
    NoPoints {
        /// The exercise.
        id: String,
    },
}

impl Catalog {
    /// Reads `exercises/exercises.toml` under `root`.
    pub fn load(root: &Path) -> Result<Catalog, CatalogError> {
        let path = root.join("exercises").join("exercises.toml");
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(root, &text).map_err(|problem| CatalogError::Invalid {
            path: shown,
            problem,
        })
    }

    /// Parses a catalogue's text.
    pub fn parse(root: &Path, text: &str) -> Result<Catalog, CatalogProblem> {
        let file: CatalogFile = toml::from_str(text)
            .map_err(|error| CatalogProblem::Syntax(error.message().to_owned()))?;
        let catalog = Catalog {
            root: root.to_owned(),
            exercises: file.exercise,
        };
        catalog.validate()?;
        Ok(catalog)
    }

    /// The exercise with `id`.
    pub fn find(&self, id: &str) -> Result<&Exercise, CatalogError> {
        self.exercises
            .iter()
            .find(|exercise| exercise.id == id)
            .ok_or_else(|| CatalogError::UnknownId { id: id.to_owned() })
    }

    /// The exercise whose file is `path`, if any.
    pub fn by_path(&self, path: &Path) -> Option<&Exercise> {
        self.exercises
            .iter()
            .find(|exercise| path.ends_with(Path::new("src").join(&exercise.file)))
    }

    fn validate(&self) -> Result<(), CatalogProblem> {
        let mut ids = std::collections::HashSet::new();
        for exercise in &self.exercises {
            let id = || exercise.id.clone();
            if !ids.insert(exercise.id.as_str()) {
                return Err(CatalogProblem::DuplicateId { id: id() });
            }
            if !exercise
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(CatalogProblem::BadId { id: id() });
            }
            if !exercise.file.ends_with(".rs")
                || exercise.file.starts_with('/')
                || exercise.file.contains("..")
            {
                return Err(CatalogProblem::BadFile {
                    id: id(),
                    file: exercise.file.clone(),
                });
            }
            if exercise.hints.is_empty() || exercise.hints.len() > MAX_HINTS {
                return Err(CatalogProblem::HintCount { id: id() });
            }
            if exercise.hints.iter().any(|hint| hint.trim().is_empty()) {
                return Err(CatalogProblem::EmptyHint { id: id() });
            }
            if exercise.tests.is_empty() || exercise.tests.iter().any(|test| test.points == 0) {
                return Err(CatalogProblem::NoPoints { id: id() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl Exercise {
    /// `redis-strings` with these hints and graded tests, for unit tests.
    pub(crate) fn sample(hints: &[&str], tests: &[(&str, u32)]) -> Exercise {
        Exercise {
            id: "redis-strings".into(),
            title: "Strings".into(),
            lesson: "01".into(),
            file: "redis/strings.rs".into(),
            timeout_seconds: 10,
            difficulty: None,
            minutes: None,
            hints: hints.iter().map(|hint| (*hint).to_owned()).collect(),
            tests: tests
                .iter()
                .map(|(name, points)| GradedTest {
                    name: (*name).to_owned(),
                    points: *points,
                })
                .collect(),
        }
    }
}

impl Exercise {
    /// The Rust module path of the exercise: `redis::strings`.
    pub fn module_path(&self) -> String {
        self.file.trim_end_matches(".rs").replace('/', "::")
    }

    /// The module path of its graded tests: `redis::strings_graded`.
    pub fn graded_module_path(&self) -> String {
        format!("{}_graded", self.module_path())
    }

    /// The student's file.
    pub fn exercise_file(&self, root: &Path) -> PathBuf {
        root.join("exercises").join("src").join(&self.file)
    }

    /// The answer key's file.
    pub fn solution_file(&self, root: &Path) -> PathBuf {
        root.join("solutions").join("src").join(&self.file)
    }

    /// The graded test suite, shared by both crates.
    pub fn graded_file(&self, root: &Path) -> PathBuf {
        root.join("tests").join("graded").join(&self.file)
    }

    /// All the points it is worth.
    pub fn max_points(&self) -> u32 {
        self.tests.iter().map(|test| test.points).sum()
    }

    /// The points of test `name`, if it is graded.
    pub fn points_of(&self, name: &str) -> Option<u32> {
        self.tests
            .iter()
            .find(|test| test.name == name)
            .map(|test| test.points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
        [[exercise]]
        id = "redis-strings"
        title = "Strings"
        lesson = "01 Redis basics"
        file = "redis/strings.rs"
        hints = ["first", "second"]
        tests = [{ name = "stores_a_name", points = 2 }, { name = "counts", points = 3 }]
    "#;

    #[test]
    fn a_catalogue_names_modules_files_and_points() {
        let catalog = Catalog::parse(Path::new("/repo"), ONE).unwrap();
        let exercise = catalog.find("redis-strings").unwrap();
        assert_eq!(exercise.module_path(), "redis::strings");
        assert_eq!(exercise.graded_module_path(), "redis::strings_graded");
        assert_eq!(
            exercise.graded_file(Path::new("/repo")),
            PathBuf::from("/repo/tests/graded/redis/strings.rs")
        );
        assert_eq!(exercise.max_points(), 5);
        assert_eq!(exercise.points_of("counts"), Some(3));
        assert_eq!(exercise.timeout_seconds, 60);
        assert_eq!((exercise.difficulty, exercise.minutes), (None, None));
        assert!(
            catalog
                .by_path(Path::new("/repo/exercises/src/redis/strings.rs"))
                .is_some()
        );
    }

    #[test]
    fn difficulty_and_minutes_are_read_when_given_and_checked() {
        let rated = ONE.replace(
            "file = ",
            "difficulty = \"medium\"\n        minutes = 25\n        file = ",
        );
        let catalog = Catalog::parse(Path::new("/repo"), &rated).unwrap();
        let exercise = catalog.find("redis-strings").unwrap();
        assert_eq!(exercise.difficulty, Some(Difficulty::Medium));
        assert_eq!(exercise.minutes, Some(25));
        let unknown = rated.replace("\"medium\"", "\"tricky\"");
        assert!(matches!(
            Catalog::parse(Path::new("/repo"), &unknown),
            Err(CatalogProblem::Syntax(_))
        ));
    }

    #[test]
    fn an_unknown_id_says_how_to_list_them() {
        let catalog = Catalog::parse(Path::new("/repo"), ONE).unwrap();
        let error = catalog.find("redis-string").unwrap_err();
        assert_eq!(
            error.to_string(),
            "there is no exercise \"redis-string\"; `cargo lab list` lists them all"
        );
    }

    #[test]
    fn exercises_without_hints_or_points_are_refused() {
        let refusal = |text: &str| Catalog::parse(Path::new("/"), text).unwrap_err();
        let no_hints = ONE.replace(r#"hints = ["first", "second"]"#, "hints = []");
        assert!(matches!(
            refusal(&no_hints),
            CatalogProblem::HintCount { .. }
        ));
        let empty_hint = ONE.replace(r#""second""#, r#"" ""#);
        assert!(matches!(
            refusal(&empty_hint),
            CatalogProblem::EmptyHint { .. }
        ));
        let no_points = ONE.replace("points = 3", "points = 0");
        assert!(matches!(
            refusal(&no_points),
            CatalogProblem::NoPoints { .. }
        ));
        let twice = format!("{ONE}\n{ONE}");
        assert_eq!(
            refusal(&twice).to_string(),
            "exercise id \"redis-strings\" appears twice"
        );
        let outside = ONE.replace("redis/strings.rs", "../strings.rs");
        assert!(matches!(refusal(&outside), CatalogProblem::BadFile { .. }));
        let capitals = ONE.replace("\"redis-strings\"", "\"Redis\"");
        assert!(matches!(refusal(&capitals), CatalogProblem::BadId { .. }));
    }
}

#[cfg(test)]
mod readme {
    use super::Catalog;

    /// The README's table of exercises is written by hand; this keeps its
    /// points in step with the catalogue, which is what `lab grade` counts.
    #[test]
    fn every_exercise_of_the_course_says_how_hard_and_how_long() {
        let root = lab::config::repository_root();
        let catalog = Catalog::load(root).unwrap();
        for exercise in &catalog.exercises {
            assert!(
                exercise.difficulty.is_some() && exercise.minutes.is_some_and(|m| m > 0),
                "{} needs `difficulty` and `minutes` in exercises.toml: `lab list` shows them",
                exercise.id
            );
        }
    }

    #[test]
    fn the_readme_gives_every_exercise_its_catalogue_points() {
        let root = lab::config::repository_root();
        let catalog = Catalog::load(root).unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for exercise in &catalog.exercises {
            let row = readme
                .lines()
                .find(|line| line.starts_with(&format!("| `{}` |", exercise.id)))
                .unwrap_or_else(|| panic!("README.md has no row for {}", exercise.id));
            let points = row.trim_end_matches('|').rsplit('|').next().unwrap().trim();
            assert_eq!(
                points,
                exercise.max_points().to_string(),
                "README.md gives {} {points} points, exercises/exercises.toml {}",
                exercise.id,
                exercise.max_points()
            );
        }
    }
}
