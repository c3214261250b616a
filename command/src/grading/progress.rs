//! The student's progress, `LAB_HOME/progress.json`: each exercise's last
//! grading (points, maximum, passed, when) and whether its answer key was
//! shown.
//!
//! Every `lab grade` and `lab watch` run records here; `lab list` and
//! `lab next` only read it, so they answer at once without compiling
//! anything. The file is a cache of the last gradings, not a transcript:
//! a later grading of an exercise replaces the earlier one.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::{Report, Status};
use lab::config::Config;

/// Every exercise's record, by exercise id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The records; an exercise never graded and never revealed has none.
    #[serde(default)]
    pub exercises: BTreeMap<String, ExerciseProgress>,
}

/// What is known of one exercise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseProgress {
    /// Its last grading, if it was graded since the last reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graded: Option<Grading>,
    /// When `lab solution` first showed its answer key, if ever. A reset does
    /// not clear it: the record says the key was seen, which stays true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_shown: Option<Moment>,
}

/// The outcome of one grading of one exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grading {
    /// Points earned.
    pub points: u32,
    /// Points available when it was graded.
    pub max: u32,
    /// Whether every test passed.
    pub passed: bool,
    /// When it was graded.
    pub at: Moment,
}

/// A moment in time, stored as RFC 3339 text in UTC
/// (`2025-03-01T09:30:00Z`) so the file stays readable.
///
/// bson's `DateTime`, already a dependency for MongoDB, does the formatting
/// and parsing; a date crate for one timestamp would be one more build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(bson::DateTime);

impl Moment {
    /// The current time.
    pub fn now() -> Moment {
        Moment(bson::DateTime::now())
    }

    /// The moment `millis` milliseconds after the Unix epoch (for tests).
    pub fn from_millis(millis: i64) -> Moment {
        Moment(bson::DateTime::from_millis(millis))
    }

    fn text(self) -> String {
        self.0
            .try_to_rfc3339_string()
            .unwrap_or_else(|_| format!("{} ms after 1970", self.0.timestamp_millis()))
    }
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for Moment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        bson::DateTime::parse_rfc3339_str(&text)
            .map(Moment)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

/// The progress file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// Reading, writing or locking the file failed.
    #[error("cannot {action} {path}: {source}; LAB_HOME must be a folder you can write to")]
    Io {
        /// What was being done: "read", "write", "lock".
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a progress file (edited by hand, or cut short).
    #[error(
        "{path} is not a progress file ({message}); delete it to start the record afresh \
         (your exercise files are not touched)"
    )]
    Unreadable {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Progress {
    /// Where the progress is kept: `LAB_HOME/progress.json`.
    pub fn path(config: &Config) -> PathBuf {
        config.home.join("progress.json")
    }

    /// The recorded progress; none at all before the first grading.
    pub fn load(config: &Config) -> Result<Progress, ProgressError> {
        let path = Self::path(config);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Progress::default());
            }
            Err(source) => return Err(io_error("read", &path, source)),
        };
        serde_json::from_str(&text).map_err(|error| ProgressError::Unreadable {
            path: path.display().to_string(),
            message: error.to_string(),
        })
    }

    /// Reads the progress, applies `change` and writes it back, holding a
    /// lock so that a `lab grade` and a `lab watch` running at once do not
    /// lose each other's records.
    pub fn update<T>(
        config: &Config,
        change: impl FnOnce(&mut Progress) -> T,
    ) -> Result<T, ProgressError> {
        let lock_path = config.home.join("progress.lock");
        let lock = std::fs::create_dir_all(&config.home)
            .and_then(|()| File::create(&lock_path))
            .map_err(|source| io_error("create", &lock_path, source))?;
        lock.lock()
            .map_err(|source| io_error("lock", &lock_path, source))?;
        let mut progress = Self::load(config)?;
        let answer = change(&mut progress);
        progress.save(config)?;
        Ok(answer)
    }

    /// Writes the progress atomically: a reader sees the old file or the new
    /// one, never half of one. (A teaching shortcut: no `fsync`, so a power
    /// cut may lose the last record; it is regained by grading again.)
    pub fn save(&self, config: &Config) -> Result<(), ProgressError> {
        let path = Self::path(config);
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(self).expect("progress is plain data");
        std::fs::create_dir_all(&config.home)
            .and_then(|()| std::fs::write(&temporary, text))
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|source| {
                let _ = std::fs::remove_file(&temporary);
                io_error("write", &path, source)
            })
    }

    /// Records every exercise of `report` as graded at `at`.
    pub fn record(&mut self, report: &Report, at: Moment) {
        for result in &report.exercises {
            self.exercises.entry(result.id.clone()).or_default().graded = Some(Grading {
                points: result.points,
                max: result.max_points,
                passed: result.status == Status::Passed,
                at,
            });
        }
    }

    /// Records that the answer key of `id` was shown at `at`, unless it was
    /// shown before (the first time is the one that matters).
    pub fn reveal(&mut self, id: &str, at: Moment) {
        self.exercises
            .entry(id.to_owned())
            .or_default()
            .solution_shown
            .get_or_insert(at);
    }

    /// Forgets the grading of `id` (after a reset), keeping the record of a
    /// revealed answer key.
    pub fn forget_grading(&mut self, id: &str) {
        if let Some(record) = self.exercises.get_mut(id) {
            record.graded = None;
            if record.solution_shown.is_none() {
                self.exercises.remove(id);
            }
        }
    }

    /// The last grading of `id`, if any.
    pub fn grading(&self, id: &str) -> Option<&Grading> {
        self.exercises.get(id)?.graded.as_ref()
    }

    /// Whether the last grading of `id` passed every test.
    pub fn is_done(&self, id: &str) -> bool {
        self.grading(id).is_some_and(|grading| grading.passed)
    }

    /// When the answer key of `id` was first shown, if it was.
    pub fn solution_shown(&self, id: &str) -> Option<Moment> {
        self.exercises.get(id)?.solution_shown
    }
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> ProgressError {
    ProgressError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::report::ExerciseResult;

    fn home(name: &str) -> Config {
        let home = std::env::temp_dir().join(format!("lab-progress-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        Config::for_home(home, Vec::new())
    }

    fn result(id: &str, points: u32, max_points: u32, status: Status) -> ExerciseResult {
        ExerciseResult {
            id: id.into(),
            title: id.into(),
            points,
            max_points,
            status,
            compile_seconds: 1.0,
            test_seconds: 1.0,
            tests: Vec::new(),
        }
    }

    #[test]
    fn a_grading_survives_a_save_and_a_load_and_the_file_is_readable_json() {
        let config = home("round-trip");
        let at = Moment::from_millis(1_740_821_400_000);
        let report = Report::new(vec![
            result("redis-strings", 10, 10, Status::Passed),
            result("redis-expiry", 3, 8, Status::Failed),
        ]);
        let mut progress = Progress::default();
        progress.record(&report, at);
        progress.reveal("redis-expiry", at);

        progress.save(&config).unwrap();
        let loaded = Progress::load(&config).unwrap();

        assert_eq!(loaded, progress);
        assert!(loaded.is_done("redis-strings"));
        assert!(!loaded.is_done("redis-expiry"));
        assert_eq!(
            loaded.grading("redis-expiry").map(|g| (g.points, g.max)),
            Some((3, 8))
        );
        let text = std::fs::read_to_string(Progress::path(&config)).unwrap();
        assert!(text.contains("\"at\": \"2025-03-01T09:30:00Z\""), "{text}");
        assert!(text.contains("\"solution_shown\""), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(&config.home)
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = std::fs::remove_dir_all(&config.home);
    }

    #[test]
    fn no_file_is_no_progress_and_a_damaged_file_says_how_to_start_afresh() {
        let config = home("damaged");
        assert_eq!(Progress::load(&config).unwrap(), Progress::default());
        std::fs::create_dir_all(&config.home).unwrap();
        std::fs::write(Progress::path(&config), "{\"exercises\": {\"x\": ").unwrap();

        let error = Progress::load(&config).unwrap_err();

        assert!(matches!(error, ProgressError::Unreadable { .. }), "{error}");
        assert!(error.to_string().contains("delete it"), "{error}");
        let _ = std::fs::remove_dir_all(&config.home);
    }

    #[test]
    fn an_update_keeps_earlier_records_and_a_later_grading_replaces_an_earlier_one() {
        let config = home("update");
        let first = Moment::from_millis(1_000);
        let later = Moment::from_millis(2_000);
        Progress::update(&config, |p| {
            p.record(&Report::new(vec![result("a", 1, 4, Status::Failed)]), first)
        })
        .unwrap();
        Progress::update(&config, |p| {
            p.record(
                &Report::new(vec![result("b", 0, 2, Status::CompileError)]),
                first,
            )
        })
        .unwrap();
        Progress::update(&config, |p| {
            p.record(&Report::new(vec![result("a", 4, 4, Status::Passed)]), later)
        })
        .unwrap();

        let progress = Progress::load(&config).unwrap();

        assert_eq!(progress.grading("a").unwrap().at, later);
        assert!(progress.is_done("a"));
        assert_eq!(progress.grading("b").unwrap().points, 0);
        let _ = std::fs::remove_dir_all(&config.home);
    }

    #[test]
    fn forgetting_a_grading_keeps_the_record_of_a_revealed_answer_key() {
        let mut progress = Progress::default();
        let at = Moment::from_millis(5);
        let report = Report::new(vec![
            result("a", 2, 2, Status::Passed),
            result("b", 2, 2, Status::Passed),
        ]);
        progress.record(&report, at);
        progress.reveal("b", at);
        progress.reveal("b", Moment::from_millis(9));

        progress.forget_grading("a");
        progress.forget_grading("b");

        assert!(!progress.exercises.contains_key("a"));
        assert_eq!(progress.grading("b"), None);
        assert_eq!(progress.solution_shown("b"), Some(at));
    }
}
