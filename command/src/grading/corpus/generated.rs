//! The generated crate of `lab check-exercises`: each answer written as the
//! key with its edits applied, in a module of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::answers::{Answer, Corpus, Kind};
use crate::grading::catalog::{Catalog, Exercise};
use crate::grading::compile::{self, CompileError, Flavor};

/// Why an answer of the corpus could not be written out; it becomes that
/// answer's problem in `lab check-exercises`.
#[derive(Debug, thiserror::Error)]
pub(super) enum AnswerError {
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
pub(super) fn write_answer(
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
pub(super) fn module_name(exercise: &str, answer: &str) -> String {
    format!(
        "{}__{}",
        exercise.replace('-', "_"),
        answer.replace('-', "_")
    )
}

/// `lib.rs` with a module per answer, holding the answer in its exercise's
/// module path and the graded suite beside it.
pub(super) fn write_lib(
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

pub(super) fn first_line(message: &str) -> String {
    message
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::corpus::Edit;

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
