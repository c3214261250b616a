//! Where a student stands in the course: each exercise, in course order,
//! with its status from the last grading. What `lab list`, `lab next` and
//! `lab watch` show, worked out from the catalogue and the progress file
//! alone, so nothing is compiled to answer.

use std::path::{Path, PathBuf};

use super::catalog::{Catalog, Exercise};
use super::progress::{Moment, Progress};

/// An exercise's status from its last grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not graded since the start or the last reset.
    NotGraded,
    /// Graded, and some test failed (or it did not compile).
    Unfinished {
        /// Points earned.
        points: u32,
        /// Points available.
        max: u32,
    },
    /// Graded, and every test passed.
    Done {
        /// Points earned (all of them).
        points: u32,
    },
}

impl Standing {
    /// The standing of `id` in `progress`.
    pub fn of(progress: &Progress, id: &str) -> Standing {
        match progress.grading(id) {
            None => Standing::NotGraded,
            Some(grading) if grading.passed => Standing::Done {
                points: grading.points,
            },
            Some(grading) => Standing::Unfinished {
                points: grading.points,
                max: grading.max,
            },
        }
    }

    /// How `lab list` shows it: `not graded`, `3/8` or `done`.
    pub fn label(self) -> String {
        match self {
            Standing::NotGraded => "not graded".to_owned(),
            Standing::Unfinished { points, max } => format!("{points}/{max}"),
            Standing::Done { .. } => "done".to_owned(),
        }
    }

    /// Points earned at the last grading (none before the first).
    pub fn points(self) -> u32 {
        match self {
            Standing::NotGraded => 0,
            Standing::Unfinished { points, .. } | Standing::Done { points } => points,
        }
    }
}

/// One exercise as `lab list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The exercise.
    pub exercise: &'a Exercise,
    /// Its status.
    pub standing: Standing,
    /// When its answer key was shown, if it was.
    pub solution_shown: Option<Moment>,
}

/// The whole course at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview<'a> {
    /// Every exercise, in course order.
    pub entries: Vec<Entry<'a>>,
    /// Points earned at the last gradings.
    pub points: u32,
    /// Points the course is worth.
    pub max: u32,
    /// How many exercises are done.
    pub done: usize,
}

/// Every exercise of `catalog` with its standing in `progress`. Records of
/// exercises the catalogue no longer has are left out.
pub fn overview<'a>(catalog: &'a Catalog, progress: &Progress) -> Overview<'a> {
    let entries: Vec<Entry<'a>> = catalog
        .exercises
        .iter()
        .map(|exercise| Entry {
            exercise,
            standing: Standing::of(progress, &exercise.id),
            solution_shown: progress.solution_shown(&exercise.id),
        })
        .collect();
    Overview {
        points: entries.iter().map(|entry| entry.standing.points()).sum(),
        max: catalog.exercises.iter().map(Exercise::max_points).sum(),
        done: entries
            .iter()
            .filter(|entry| matches!(entry.standing, Standing::Done { .. }))
            .count(),
        entries,
    }
}

/// The first exercise, in course order, that is not done: what `lab next`
/// names. `None` when every exercise is done.
pub fn next_unfinished<'a>(catalog: &'a Catalog, progress: &Progress) -> Option<&'a Exercise> {
    catalog
        .exercises
        .iter()
        .find(|exercise| !progress.is_done(&exercise.id))
}

/// The first exercise after `id` that is not done, coming round to the start
/// of the course when the ones after it are all done; never `id` itself.
pub fn unfinished_after<'a>(
    catalog: &'a Catalog,
    progress: &Progress,
    id: &str,
) -> Option<&'a Exercise> {
    let start = catalog
        .exercises
        .iter()
        .position(|exercise| exercise.id == id)
        .map_or(0, |index| index + 1);
    let (before, after) = catalog
        .exercises
        .split_at(start.min(catalog.exercises.len()));
    after
        .iter()
        .chain(before)
        .find(|exercise| exercise.id != id && !progress.is_done(&exercise.id))
}

/// The notebook of `lesson` (`01 Redis basics`), relative to the repository:
/// the file in `notebooks/` whose name starts with the lesson's number
/// (`notebooks/01-redis-basics.ipynb`). `None` for a lesson without one.
pub fn notebook_of(root: &Path, lesson: &str) -> Option<PathBuf> {
    let number = lesson.split_whitespace().next()?;
    if !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix = format!("{number}-");
    let mut names: Vec<String> = std::fs::read_dir(root.join("notebooks"))
        .ok()?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix) && name.ends_with(".ipynb"))
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .map(|name| Path::new("notebooks").join(name))
}

/// The student's file of `exercise`, relative to the repository, as a
/// student would type it: `exercises/src/redis/strings.rs`.
pub fn exercise_path(exercise: &Exercise) -> String {
    format!("exercises/src/{}", exercise.file)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::grading::progress::Grading;

    /// A catalogue of three exercises, `a`, `b` and `c`, worth 2, 4 and 6.
    pub(crate) fn three() -> Catalog {
        let one = |id: &str, lesson: &str, points: u32| {
            format!(
                "[[exercise]]\nid = \"{id}\"\ntitle = \"{id}\"\nlesson = \"{lesson}\"\n\
                 file = \"x/{id}.rs\"\nhints = [\"h\"]\ntests = [{{ name = \"t\", points = {points} }}]\n"
            )
        };
        let text = [
            one("a", "01 First", 2),
            one("b", "01 First", 4),
            one("c", "02 Second", 6),
        ]
        .concat();
        Catalog::parse(Path::new("/repo"), &text).unwrap()
    }

    pub(crate) fn graded(progress: &mut Progress, id: &str, points: u32, max: u32) {
        progress.exercises.entry(id.into()).or_default().graded = Some(Grading {
            points,
            max,
            passed: points == max,
            at: Moment::from_millis(0),
        });
    }

    #[test]
    fn the_overview_shows_each_status_and_totals_the_points() {
        let catalog = three();
        let mut progress = Progress::default();
        graded(&mut progress, "a", 2, 2);
        graded(&mut progress, "b", 1, 4);
        graded(&mut progress, "gone-from-the-course", 5, 5);
        progress.reveal("b", Moment::from_millis(7));

        let overview = overview(&catalog, &progress);

        let labels: Vec<String> = overview
            .entries
            .iter()
            .map(|entry| entry.standing.label())
            .collect();
        assert_eq!(labels, ["done", "1/4", "not graded"]);
        assert_eq!((overview.points, overview.max, overview.done), (3, 12, 1));
        assert_eq!(
            overview.entries[1].solution_shown,
            Some(Moment::from_millis(7))
        );
        assert_eq!(overview.entries[0].solution_shown, None);
    }

    #[test]
    fn next_is_the_first_exercise_not_done_in_course_order() {
        let catalog = three();
        let mut progress = Progress::default();
        assert_eq!(next_unfinished(&catalog, &progress).unwrap().id, "a");
        graded(&mut progress, "a", 2, 2);
        graded(&mut progress, "c", 6, 6);
        graded(&mut progress, "b", 0, 4);
        assert_eq!(next_unfinished(&catalog, &progress).unwrap().id, "b");
        graded(&mut progress, "b", 4, 4);
        assert_eq!(next_unfinished(&catalog, &progress), None);
    }

    #[test]
    fn after_an_exercise_the_next_unfinished_one_comes_round_to_the_start() {
        let catalog = three();
        let mut progress = Progress::default();
        assert_eq!(unfinished_after(&catalog, &progress, "a").unwrap().id, "b");
        graded(&mut progress, "c", 6, 6);
        assert_eq!(unfinished_after(&catalog, &progress, "b").unwrap().id, "a");
        assert_eq!(unfinished_after(&catalog, &progress, "a").unwrap().id, "b");
        graded(&mut progress, "a", 2, 2);
        assert_eq!(unfinished_after(&catalog, &progress, "b"), None);
    }

    #[test]
    fn a_lesson_finds_its_notebook_by_number() {
        let root =
            std::env::temp_dir().join(format!("lab-course-notebooks-{}", std::process::id()));
        std::fs::create_dir_all(root.join("notebooks")).unwrap();
        for name in [
            "01-redis-basics.ipynb",
            "10-the-whole-system.ipynb",
            "README.md",
        ] {
            std::fs::write(root.join("notebooks").join(name), "{}").unwrap();
        }
        assert_eq!(
            notebook_of(&root, "01 Redis basics"),
            Some(PathBuf::from("notebooks/01-redis-basics.ipynb"))
        );
        assert_eq!(
            notebook_of(&root, "10 The whole system"),
            Some(PathBuf::from("notebooks/10-the-whole-system.ipynb"))
        );
        assert_eq!(notebook_of(&root, "00 The Rust you need"), None);
        assert_eq!(notebook_of(&root, "Redis basics"), None);
        let _ = std::fs::remove_dir_all(root);
    }
}
