//! `lab watch`: noticing which exercise file a student just saved, and
//! deciding where to go after a grading.
//!
//! Polling modification times twice a second is plenty for a person typing,
//! and needs no file-system notification library.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use super::catalog::{Catalog, Exercise};
use super::course;
use super::progress::Progress;

/// What `lab watch` does after grading the exercise it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The exercise is not done: keep following it.
    Stay,
    /// The exercise passed: follow this one next.
    MoveOn(&'a Exercise),
    /// The exercise passed and no other is unfinished.
    AllDone,
}

/// The step after grading `graded`: stay on it until it passes, then move
/// on to the next unfinished exercise in course order (coming round to
/// earlier ones skipped on the way).
pub fn after_grading<'a>(
    catalog: &'a Catalog,
    progress: &Progress,
    graded: &str,
    passed: bool,
) -> Step<'a> {
    if !passed {
        return Step::Stay;
    }
    match course::unfinished_after(catalog, progress, graded) {
        Some(next) => Step::MoveOn(next),
        None => Step::AllDone,
    }
}

/// Remembers when each exercise file last changed.
#[derive(Debug)]
pub struct Watcher {
    seen: HashMap<String, Option<SystemTime>>,
    files: Vec<(String, PathBuf)>,
}

impl Watcher {
    /// Starts watching every exercise of `catalog`; nothing counts as changed yet.
    pub fn new(catalog: &Catalog) -> Watcher {
        let files: Vec<(String, PathBuf)> = catalog
            .exercises
            .iter()
            .map(|exercise| (exercise.id.clone(), exercise.exercise_file(&catalog.root)))
            .collect();
        let seen = files
            .iter()
            .map(|(id, path)| (id.clone(), modified(path)))
            .collect();
        Watcher { seen, files }
    }

    /// The ids of exercises whose files changed since the last call.
    pub fn changed(&mut self) -> Vec<String> {
        let mut changed = Vec::new();
        for (id, path) in &self.files {
            let now = modified(path);
            if self.seen.get(id) != Some(&now) {
                self.seen.insert(id.clone(), now);
                changed.push(id.clone());
            }
        }
        changed
    }
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::course::tests::{graded, three};
    use std::path::Path;

    #[test]
    fn a_failed_grading_stays_on_the_exercise() {
        let catalog = three();
        let progress = Progress::default();
        assert_eq!(after_grading(&catalog, &progress, "a", false), Step::Stay);
    }

    #[test]
    fn a_pass_moves_on_to_the_next_unfinished_exercise_skipping_done_ones() {
        let catalog = three();
        let mut progress = Progress::default();
        graded(&mut progress, "a", 2, 2);
        graded(&mut progress, "b", 4, 4);
        let step = after_grading(&catalog, &progress, "a", true);
        assert!(
            matches!(step, Step::MoveOn(next) if next.id == "c"),
            "{step:?}"
        );
    }

    #[test]
    fn a_pass_of_the_last_exercise_comes_back_to_an_earlier_unfinished_one() {
        let catalog = three();
        let mut progress = Progress::default();
        graded(&mut progress, "a", 1, 2);
        graded(&mut progress, "c", 6, 6);
        let step = after_grading(&catalog, &progress, "c", true);
        assert!(
            matches!(step, Step::MoveOn(next) if next.id == "a"),
            "{step:?}"
        );
    }

    #[test]
    fn a_pass_of_the_only_unfinished_exercise_ends_the_course() {
        let catalog = three();
        let mut progress = Progress::default();
        graded(&mut progress, "a", 2, 2);
        graded(&mut progress, "c", 6, 6);
        // `b` has just passed, though the progress does not say so yet.
        assert_eq!(after_grading(&catalog, &progress, "b", true), Step::AllDone);
    }

    #[test]
    fn a_saved_file_is_reported_once() {
        let root = std::env::temp_dir().join(format!("lab-watch-{}", std::process::id()));
        let file = root.join("exercises/src/redis/strings.rs");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "// start").unwrap();
        let catalog = Catalog::parse(
            Path::new(&root),
            r#"[[exercise]]
            id = "redis-strings"
            title = "t"
            lesson = "l"
            file = "redis/strings.rs"
            hints = ["h"]
            tests = [{ name = "a", points = 1 }]"#,
        )
        .unwrap();
        let mut watcher = Watcher::new(&catalog);
        assert!(watcher.changed().is_empty());
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(watcher.changed(), ["redis-strings"]);
        assert!(watcher.changed().is_empty());
        let _ = std::fs::remove_dir_all(root);
    }
}
