//! Grading the whole corpus in one build, and judging each answer's
//! grade against what it is meant to show.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::answers::{Answer, Corpus, Kind};
use super::generated::{first_line, module_name, write_answer, write_lib};
use crate::grading::catalog::{Catalog, Exercise};
use crate::grading::compile::{self, CompileError, Flavor};
use crate::grading::report::ExerciseResult;
use crate::grading::runner::{self, GradeError};

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
    if let Some(executable) = &executable {
        // The answers of one exercise run in one test process (one MongoDB
        // server started instead of one per answer), several exercises at
        // once. An answer that hangs or ends the process costs the answers
        // running beside it their results, so each answer with a test
        // missing from the process's report runs again alone: only the
        // faulty one is then marked.
        let mut by_exercise: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for index in files.into_keys() {
            by_exercise
                .entry(corpus.answers[index].0.as_str())
                .or_default()
                .push(index);
        }
        let graded: Vec<Vec<Verdict>> = stream::iter(by_exercise)
            .map(|(id, indexes)| grade_exercise(catalog, corpus, executable, id, indexes))
            .buffered(runner::concurrent_runs())
            .try_collect()
            .await?;
        verdicts.extend(graded.into_iter().flatten());
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

/// Grades the answers `indexes` of the corpus, all of exercise `id`, in
/// one test process; an answer with a test that process did not report is
/// graded again alone.
async fn grade_exercise(
    catalog: &Catalog,
    corpus: &Corpus,
    executable: &Path,
    id: &str,
    indexes: Vec<usize>,
) -> Result<Vec<Verdict>, GradeError> {
    let exercise = catalog.find(id)?;
    let prefixes: Vec<String> = indexes
        .iter()
        .map(|&index| {
            let answer = &corpus.answers[index].1;
            format!(
                "{}::{}::",
                module_name(id, &answer.name),
                exercise.graded_module_path()
            )
        })
        .collect();
    let all: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let mut results = Vec::new();
    for ((result, complete), prefix) in runner::run_many(catalog, exercise, executable, &all)
        .await?
        .into_iter()
        .zip(&all)
    {
        results.push(if complete {
            result
        } else {
            runner::run(catalog, exercise, executable, prefix).await?
        });
    }
    Ok(indexes
        .into_iter()
        .zip(results)
        .map(|(index, result)| {
            let answer = &corpus.answers[index].1;
            let problem = judge(exercise, answer, &result);
            verdict(id, answer, Some(result), problem)
        })
        .collect())
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
