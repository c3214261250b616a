//! The student's tools around grading: `lab list`, `lab next` and
//! `lab solution` run as the real program on a lab home of the test's own,
//! and `lab reset --all` on a copy of the exercises in a git repository of
//! the test's own (never on the course's files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lab::Config;
use lab_command::grading::Catalog;
use lab_command::grading::confirm::{self, Asker};
use lab_command::grading::progress::{Grading, Moment, Progress};
use lab_command::grading::{pristine, reset};

/// A folder under the build's scratch space, emptied first and removed at
/// the end of the test, pass or fail.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("student-tools-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn course() -> Catalog {
    Catalog::load(lab::config::repository_root()).unwrap()
}

/// Runs the `lab` program with `home` as LAB_HOME and nothing on stdin
/// (not a terminal, as in CI).
fn lab(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .env("LAB_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("the lab program runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn graded(points: u32, max: u32) -> Grading {
    Grading {
        points,
        max,
        passed: points == max,
        at: Moment::from_millis(1_740_821_400_000),
    }
}

#[test]
fn list_and_next_read_a_progress_file_and_next_names_the_first_unfinished_exercise() {
    // Arrange: the first exercise done, the second half done.
    let home = Scratch::new("list-next");
    let config = Config::for_home(&home.0, Vec::new());
    let catalog = course();
    let [first, second, third, ..] = &catalog.exercises[..] else {
        panic!("the course has at least three exercises");
    };
    let mut progress = Progress::default();
    let half = second.max_points() / 2;
    progress
        .exercises
        .entry(first.id.clone())
        .or_default()
        .graded = Some(graded(first.max_points(), first.max_points()));
    progress
        .exercises
        .entry(second.id.clone())
        .or_default()
        .graded = Some(graded(half, second.max_points()));
    progress.save(&config).unwrap();

    // Act
    let list = lab(&home.0, &["list"]);
    let next = lab(&home.0, &["next"]);

    // Assert
    assert!(list.status.success(), "{list:?}");
    let text = stdout(&list);
    let row = |id: &str| {
        text.lines()
            .find(|line| line.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no row for {id} in:\n{text}"))
            .to_owned()
    };
    assert!(row(&first.id).contains(" done "), "{text}");
    assert!(
        row(&second.id).contains(&format!(" {half}/{} ", second.max_points())),
        "{text}"
    );
    assert!(row(&third.id).contains(" not graded "), "{text}");
    assert!(row(&second.id).contains(&second.lesson), "{text}");
    let max: u32 = catalog.exercises.iter().map(|e| e.max_points()).sum();
    let earned = first.max_points() + half;
    let total = format!(
        "{earned}/{max} points, 1 of {} exercises done",
        catalog.exercises.len()
    );
    assert!(text.contains(&total), "{text}");

    assert!(next.status.success(), "{next:?}");
    let text = stdout(&next);
    assert!(
        text.starts_with(&format!("Next: {}, ", second.id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("exercises/src/{}", second.file)),
        "{text}"
    );
    assert!(text.contains(&second.lesson), "{text}");
    assert!(
        text.contains(&format!("cargo lab grade {}", second.id)),
        "{text}"
    );
}

#[test]
fn the_solution_is_refused_without_a_terminal_or_yes_and_nothing_is_recorded() {
    let home = Scratch::new("solution-refused");
    let catalog = course();
    let exercise = &catalog.exercises[0];
    let key = std::fs::read_to_string(exercise.solution_file(&catalog.root)).unwrap();

    let output = lab(&home.0, &["solution", &exercise.id]);

    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    let first_line = key.lines().find(|line| !line.trim().is_empty()).unwrap();
    assert!(!stdout(&output).contains(first_line), "{output:?}");
    let config = Config::for_home(&home.0, Vec::new());
    assert_eq!(Progress::load(&config).unwrap(), Progress::default());
}

#[test]
fn a_solution_shown_with_yes_is_printed_recorded_and_marked_in_the_list() {
    let home = Scratch::new("solution-shown");
    let catalog = course();
    let exercise = &catalog.exercises[1];
    let key = std::fs::read_to_string(exercise.solution_file(&catalog.root)).unwrap();

    let shown = lab(&home.0, &["solution", &exercise.id, "--yes"]);
    let list = lab(&home.0, &["list"]);

    assert!(shown.status.success(), "{shown:?}");
    assert!(stdout(&shown).contains(&key));
    let config = Config::for_home(&home.0, Vec::new());
    let progress = Progress::load(&config).unwrap();
    assert!(progress.solution_shown(&exercise.id).is_some());
    assert_eq!(progress.grading(&exercise.id), None);
    let text = stdout(&list);
    let row = text
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(exercise.id.as_str()))
        .unwrap();
    assert!(row.ends_with("[answer key shown]"), "{text}");
    assert!(text.contains("answer key shown for 1"), "{text}");
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=lab", "-c", "user.email=lab@example.com"])
        .args(args)
        .current_dir(root)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A git repository holding the course's catalogue and a copy of every
/// exercise file, committed and recorded as the originals.
fn course_copy(root: &Path) -> Catalog {
    let real = course();
    std::fs::create_dir_all(root.join("exercises")).unwrap();
    std::fs::copy(
        real.root.join("exercises/exercises.toml"),
        root.join("exercises/exercises.toml"),
    )
    .unwrap();
    let copy = Catalog::load(root).unwrap();
    for exercise in &copy.exercises {
        let target = exercise.exercise_file(root);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(exercise.exercise_file(&real.root), &target).unwrap();
    }
    pristine::record(&copy).unwrap();
    git(root, &["init", "--quiet"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "the course"]);
    copy
}

#[test]
fn reset_all_puts_every_file_back_and_forgets_every_grading_but_the_shown_key() {
    // Arrange: a copy of the course, every file changed or deleted, graded.
    let scratch = Scratch::new("reset-all");
    let root = scratch.0.join("course");
    let catalog = course_copy(&root);
    let originals: Vec<Vec<u8>> = catalog
        .exercises
        .iter()
        .map(|e| std::fs::read(e.exercise_file(&root)).unwrap())
        .collect();
    for (index, exercise) in catalog.exercises.iter().enumerate() {
        let file = exercise.exercise_file(&root);
        if index == 0 {
            std::fs::remove_file(&file).unwrap();
        } else {
            std::fs::write(&file, "// my work in progress\n").unwrap();
        }
    }
    git(&root, &["commit", "--quiet", "-am", "my own work"]);
    let config = Config::for_home(scratch.0.join("home"), Vec::new());
    Progress::update(&config, |progress| {
        for exercise in &catalog.exercises {
            progress
                .exercises
                .entry(exercise.id.clone())
                .or_default()
                .graded = Some(graded(0, exercise.max_points()));
        }
        progress.reveal(&catalog.exercises[1].id, Moment::from_millis(0));
    })
    .unwrap();
    let consent = confirm::confirm("Reset?", "not reset", Asker::Skipped)
        .unwrap()
        .unwrap();

    // Act
    let everything: Vec<_> = catalog.exercises.iter().collect();
    let written = reset::reset(&config, &catalog, &everything, consent).unwrap();

    // Assert
    assert_eq!(written.len(), catalog.exercises.len());
    for (exercise, original) in catalog.exercises.iter().zip(&originals) {
        let now = std::fs::read(exercise.exercise_file(&root)).unwrap();
        assert!(&now == original, "{} was not put back", exercise.id);
    }
    let progress = Progress::load(&config).unwrap();
    assert!(
        catalog
            .exercises
            .iter()
            .all(|e| progress.grading(&e.id).is_none())
    );
    assert!(progress.solution_shown(&catalog.exercises[1].id).is_some());
}

#[test]
fn a_reset_that_cannot_find_one_original_changes_no_file() {
    let scratch = Scratch::new("reset-none");
    let root = scratch.0.join("course");
    let catalog = course_copy(&root);
    let [first, second, ..] = &catalog.exercises[..] else {
        panic!("the course has at least two exercises");
    };
    std::fs::write(first.exercise_file(&root), "// mine\n").unwrap();
    // The second original's record no longer matches anything in history.
    let lock = pristine::lock_path(&root);
    let text = std::fs::read_to_string(&lock).unwrap();
    let recorded = pristine::recorded(&root).unwrap();
    let wrong = text.replace(
        &format!("{} {}", second.id, recorded[&second.id]),
        &format!("{} 0000000000000000", second.id),
    );
    std::fs::write(&lock, wrong).unwrap();
    let config = Config::for_home(scratch.0.join("home"), Vec::new());
    let consent = confirm::confirm("Reset?", "not reset", Asker::Skipped)
        .unwrap()
        .unwrap();

    let error = reset::reset(&config, &catalog, &[first, second], consent).unwrap_err();

    assert!(error.to_string().contains("no original"), "{error}");
    assert_eq!(
        std::fs::read_to_string(first.exercise_file(&root)).unwrap(),
        "// mine\n"
    );
}
