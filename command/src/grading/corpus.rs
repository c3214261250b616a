//! The corpus of answers that prove the graded suites catch mistakes.
//!
//! `exercises/corpus/<exercise id>.toml` holds answers written as edits of
//! the answer key: each **wrong** answer makes one realistic mistake (two
//! commands where one is asked, work in Rust that the lesson does in the
//! database, a race) and names the test that must fail and a phrase its
//! message must contain, so the suite is shown to catch the mistake *and*
//! to say why; each **alternative** answer is correct but written
//! differently from the key, and must keep full marks.
//!
//! `lab check-exercises` writes every answer into one generated crate, a
//! module per answer with the exercise's graded suite beside it, compiles
//! it once and runs each answer's tests: one build for the whole corpus,
//! however large it grows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::catalog::{Catalog, Exercise};
use super::compile::{self, CompileError, Flavor};
use super::report::ExerciseResult;
use super::runner::{self, GradeError};

/// What an answer in the corpus is meant to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A mistake the suite must catch.
    Wrong,
    /// A correct answer written differently, which must keep full marks.
    Alternative,
}

/// One answer: the answer key with `edits` applied.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// A short name, unique within the exercise (`set_then_expire`).
    pub name: String,
    /// Wrong or alternative.
    pub kind: Kind,
    /// The mistake (or the different way), in a sentence.
    pub about: String,
    /// For a wrong answer: the test that must fail.
    #[serde(default)]
    pub fails: Option<String>,
    /// For a wrong answer: words the failing test's message must contain
    /// (compared without case), so the message names the mistake.
    #[serde(default)]
    pub says: Option<String>,
    /// The changes to the answer key, applied in order.
    #[serde(rename = "edit")]
    pub edits: Vec<Edit>,
}

/// Replace the one occurrence of `find` by `replace`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Text that occurs exactly once in the answer key's file.
    pub find: String,
    /// What it becomes.
    pub replace: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    answer: Vec<Answer>,
}

/// The corpus could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A corpus file is not valid.
    #[error("{path} is not a valid corpus file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Every answer of every exercise, in the order of the course.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// `(exercise id, answer)`.
    pub answers: Vec<(String, Answer)>,
}

impl Corpus {
    /// The folder of the corpus files.
    pub fn dir(root: &Path) -> PathBuf {
        root.join("exercises").join("corpus")
    }

    /// Reads `exercises/corpus/*.toml`; each file is named for an exercise
    /// of `catalog`.
    pub fn load(catalog: &Catalog) -> Result<Corpus, CorpusError> {
        let dir = Corpus::dir(&catalog.root);
        let mut corpus = Corpus::default();
        for exercise in &catalog.exercises {
            let path = dir.join(format!("{}.toml", exercise.id));
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| CorpusError::Io {
                context: format!("cannot read {}", path.display()),
                source,
            })?;
            let file: CorpusFile = toml::from_str(&text).map_err(|error| CorpusError::Invalid {
                path: path.display().to_string(),
                message: error.message().to_owned(),
            })?;
            for answer in file.answer {
                corpus.answers.push((exercise.id.clone(), answer));
            }
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let id = name.trim_end_matches(".toml");
                if catalog.find(id).is_err() {
                    return Err(CorpusError::Invalid {
                        path: entry.path().display().to_string(),
                        message: format!("{id:?} is not an exercise in exercises/exercises.toml"),
                    });
                }
            }
        }
        Ok(corpus)
    }

    /// How many answers of `kind` the corpus has for `exercise`.
    pub fn count(&self, exercise: &str, kind: Kind) -> usize {
        self.answers
            .iter()
            .filter(|(id, answer)| id == exercise && answer.kind == kind)
            .count()
    }
}

/// How one answer of the corpus came out.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The exercise.
    pub exercise: String,
    /// The answer's name.
    pub answer: String,
    /// Wrong or alternative.
    pub kind: Kind,
    /// Its grade, when it compiled.
    pub result: Option<ExerciseResult>,
    /// What is wrong with the suite (or the answer) as this answer shows
    /// it; `None` when the answer came out as it should.
    pub problem: Option<String>,
}

/// Grades every answer of `corpus` in one build and says, for each,
/// whether the suite treated it as it should.
pub async fn grade(catalog: &Catalog, corpus: &Corpus) -> Result<Vec<Verdict>, GradeError> {
    let root = &catalog.root;
    let dir = root.join("target").join("lab-grade").join("corpus");
    compile::write_manifest(root, &dir, Flavor::Solutions, "graded-corpus")?;
    let mut verdicts = Vec::new();
    // Each answer's file, or why it could not be made.
    let mut files: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for (index, (id, answer)) in corpus.answers.iter().enumerate() {
        let exercise = catalog.find(id)?;
        match write_answer(root, &dir, exercise, answer) {
            Ok(path) => {
                files.insert(index, path);
            }
            Err(problem) => verdicts.push(verdict(id, answer, None, Some(problem.to_string()))),
        }
    }
    let executable = loop {
        if files.is_empty() {
            break None;
        }
        write_lib(catalog, &dir, corpus, &files)?;
        let build = compile::cargo_build(root, &dir).await?;
        if build.executable.is_some() {
            break build.executable;
        }
        let broken: Vec<usize> = files
            .iter()
            .filter(|(_, path)| build.errors.iter().any(|(file, _)| file == *path))
            .map(|(index, _)| *index)
            .collect();
        if broken.is_empty() {
            let first = build.errors.first().map(|(_, message)| message.clone());
            return Err(CompileError::Build(first.unwrap_or(build.stderr_tail)).into());
        }
        for index in broken {
            let (id, answer) = &corpus.answers[index];
            let path = files.remove(&index).unwrap_or_default();
            let message = build
                .errors
                .iter()
                .find(|(file, _)| *file == path)
                .map(|(_, message)| first_line(message))
                .unwrap_or_default();
            verdicts.push(verdict(
                id,
                answer,
                None,
                Some(format!("does not compile: {message}")),
            ));
        }
    };
    if let Some(executable) = executable {
        for (index, _) in files {
            let (id, answer) = &corpus.answers[index];
            let exercise = catalog.find(id)?;
            let prefix = format!(
                "{}::{}::",
                module_name(id, &answer.name),
                exercise.graded_module_path()
            );
            let result = runner::run(catalog, exercise, &executable, &prefix).await?;
            let problem = judge(exercise, answer, &result);
            verdicts.push(verdict(id, answer, Some(result), problem));
        }
    }
    let order = |v: &Verdict| {
        corpus
            .answers
            .iter()
            .position(|(id, a)| *id == v.exercise && a.name == v.answer)
    };
    verdicts.sort_by_key(order);
    Ok(verdicts)
}

fn verdict(
    id: &str,
    answer: &Answer,
    result: Option<ExerciseResult>,
    problem: Option<String>,
) -> Verdict {
    Verdict {
        exercise: id.to_owned(),
        answer: answer.name.clone(),
        kind: answer.kind,
        result,
        problem,
    }
}

/// Whether the suite graded `answer` as it should.
fn judge(exercise: &Exercise, answer: &Answer, result: &ExerciseResult) -> Option<String> {
    match answer.kind {
        Kind::Alternative => (result.points != result.max_points).then(|| {
            format!(
                "a correct alternative ({}) scored {} of {}: {}",
                answer.about,
                result.points,
                result.max_points,
                result.first_message().unwrap_or("")
            )
        }),
        Kind::Wrong => {
            if result.points == result.max_points {
                return Some(format!(
                    "a wrong answer ({}) kept full marks: no test catches it",
                    answer.about
                ));
            }
            let expected = answer.fails.as_deref()?;
            if exercise.points_of(expected).is_none() {
                return Some(format!(
                    "`fails` names {expected:?}, which is not a graded test"
                ));
            }
            let test = result.tests.iter().find(|t| t.name == expected)?;
            if test.points > 0 {
                let failed: Vec<&str> = result
                    .tests
                    .iter()
                    .filter(|t| t.points == 0)
                    .map(|t| t.name.as_str())
                    .collect();
                return Some(format!(
                    "a wrong answer ({}) passed {expected}, which should catch it (it failed {})",
                    answer.about,
                    failed.join(", ")
                ));
            }
            let message = test.message.as_deref().unwrap_or("");
            let says = answer.says.as_deref().unwrap_or("");
            (!message.to_lowercase().contains(&says.to_lowercase())).then(|| {
                format!(
                    "a wrong answer ({}) failed {expected}, but its message does not say {says:?}: {message}",
                    answer.about
                )
            })
        }
    }
}

/// Why an answer of the corpus could not be written out; it becomes that
/// answer's problem in `lab check-exercises`.
#[derive(Debug, thiserror::Error)]
enum AnswerError {
    /// A wrong answer does not say which test catches it, or how.
    #[error("a wrong answer must name the test that `fails` and what its message `says`")]
    Unlabelled,
    /// An edit's text is missing from the answer key, or not unique there.
    #[error("edit {number} must find its text exactly once in {key}, found it {found} times")]
    EditNotFoundOnce {
        /// The edit, counted from 1.
        number: usize,
        /// The answer key's file.
        key: String,
        /// How many times its text occurs.
        found: usize,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The answer's file could not be written.
    #[error(transparent)]
    Write(#[from] CompileError),
}

/// The answer key's file with the answer's edits applied, written under
/// `dir`.
fn write_answer(
    root: &Path,
    dir: &Path,
    exercise: &Exercise,
    answer: &Answer,
) -> Result<PathBuf, AnswerError> {
    if answer.kind == Kind::Wrong && (answer.fails.is_none() || answer.says.is_none()) {
        return Err(AnswerError::Unlabelled);
    }
    let key = Flavor::Solutions.file_of(exercise, root);
    let mut text = std::fs::read_to_string(&key).map_err(|source| AnswerError::Io {
        context: format!("cannot read {}", key.display()),
        source,
    })?;
    for (number, edit) in answer.edits.iter().enumerate() {
        let found = text.matches(&edit.find).count();
        if found != 1 {
            return Err(AnswerError::EditNotFoundOnce {
                number: number + 1,
                key: key.display().to_string(),
                found,
            });
        }
        text = text.replacen(&edit.find, &edit.replace, 1);
    }
    let path = dir
        .join("answers")
        .join(&exercise.id)
        .join(format!("{}.rs", answer.name));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| AnswerError::Io {
            context: format!("cannot create {}", parent.display()),
            source,
        })?;
    }
    compile::write_if_changed(&path, &text)?;
    Ok(path)
}

/// The module of one answer: `redis_expiry__set_then_expire`.
fn module_name(exercise: &str, answer: &str) -> String {
    format!(
        "{}__{}",
        exercise.replace('-', "_"),
        answer.replace('-', "_")
    )
}

/// `lib.rs` with a module per answer, holding the answer in its exercise's
/// module path and the graded suite beside it.
fn write_lib(
    catalog: &Catalog,
    dir: &Path,
    corpus: &Corpus,
    files: &BTreeMap<usize, PathBuf>,
) -> Result<(), CompileError> {
    let mut text = String::from(
        "// Written by `lab check-exercises`; rewritten on every run.\n#![allow(warnings)]\n",
    );
    for (index, path) in files {
        let (id, answer) = &corpus.answers[*index];
        let Ok(exercise) = catalog.find(id) else {
            continue;
        };
        let mut segments: Vec<&str> = exercise.file.trim_end_matches(".rs").split('/').collect();
        let leaf = segments.pop().unwrap_or_default();
        text.push_str(&format!("pub mod {} {{\n", module_name(id, &answer.name)));
        for segment in &segments {
            text.push_str(&format!("pub mod {segment} {{\n"));
        }
        text.push_str(&format!(
            "#[path = {:?}]\npub mod {leaf};\n#[cfg(test)]\n#[path = {:?}]\nmod {leaf}_graded;\n",
            path.display().to_string(),
            exercise.graded_file(&catalog.root).display().to_string()
        ));
        for _ in 0..=segments.len() {
            text.push_str("}\n");
        }
    }
    compile::write_if_changed(&dir.join("lib.rs"), &text)
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_files_parse_and_name_real_tests() {
        let root = lab::config::repository_root();
        let catalog = Catalog::load(root).unwrap();
        let corpus = Corpus::load(&catalog).unwrap();
        for (id, answer) in &corpus.answers {
            let exercise = catalog.find(id).unwrap();
            if let Some(test) = &answer.fails {
                assert!(
                    exercise.points_of(test).is_some(),
                    "{id}/{}: `fails` names {test:?}, which is not a graded test",
                    answer.name
                );
            }
        }
    }

    #[test]
    fn answers_are_the_key_with_their_edits() {
        let root = lab::config::repository_root();
        let catalog = Catalog::load(root).unwrap();
        let exercise = catalog.find("redis-expiry").unwrap();
        let dir = std::env::temp_dir().join(format!("lab-corpus-{}", std::process::id()));
        let answer = Answer {
            name: "twice".into(),
            kind: Kind::Wrong,
            about: "an edit whose text is not in the key".into(),
            fails: Some("a_session_is_stored_with_an_expiry".into()),
            says: Some("one command".into()),
            edits: vec![Edit {
                find: "this text is nowhere in the answer key".into(),
                replace: String::new(),
            }],
        };
        let error = write_answer(root, &dir, exercise, &answer).unwrap_err();
        assert!(
            matches!(
                error,
                AnswerError::EditNotFoundOnce {
                    number: 1,
                    found: 0,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("found it 0 times"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
