//! The corpus files, `exercises/corpus/<exercise id>.toml`, read and
//! checked.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::grading::catalog::Catalog;

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
}
