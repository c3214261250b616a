//! Where `lab serve` writes its log, and how that stays off the request's
//! path and within a bounded size.
//!
//! - **Off the hot path**: handlers never write to a file or a terminal.
//!   Log lines go into an in-memory queue that one background thread
//!   drains (`tracing-appender`'s non-blocking writer). When the queue is
//!   full, lines are dropped rather than slowing requests down: a log is
//!   worth less than the answers it describes.
//! - **Bounded**: a log file (`LAB_LOG_FILE`, which `lab up` sets to
//!   `LAB_HOME/api/api.log`) starts afresh once it passes
//!   [`LOG_FILE_LIMIT`]; the previous ones are kept as `api.log.1` (the
//!   newest) to `api.log.N`, at most [`KEPT_LOG_FILES`] of them, and older
//!   ones are deleted. Even `LAB_LOG=debug` under a benchmark cannot fill
//!   the disk. (`tracing-appender` rotates by time only, which bounds
//!   nothing while a busy hour writes gigabytes; `file-rotate` rotates by
//!   size.)
//!
//! Files get no colour codes: `lab serve` asks for them only when its
//! standard output is a terminal.

use std::path::{Path, PathBuf};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};

/// The size after which the log file starts afresh (10 MiB).
pub const LOG_FILE_LIMIT: usize = 10 * 1024 * 1024;

/// How many full log files are kept beside the current one.
pub const KEPT_LOG_FILES: usize = 4;

/// The log file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the log to {}: {source}; set LAB_LOG_FILE to a file in a folder you can write to, or unset it to log to the terminal", path.display())]
pub struct LogFileError {
    /// The file asked for.
    pub path: PathBuf,
    /// The system's reason.
    #[source]
    pub source: std::io::Error,
}

/// A writer for the log, and the guard that flushes what is still queued
/// when it is dropped: keep the guard alive as long as the process logs
/// (hold it in `main`), or the last lines are lost.
pub fn writer(file: Option<&Path>) -> Result<(NonBlocking, WorkerGuard), LogFileError> {
    Ok(match file {
        Some(path) => {
            tracing_appender::non_blocking(rotating_file(path, LOG_FILE_LIMIT, KEPT_LOG_FILES)?)
        }
        None => tracing_appender::non_blocking(std::io::stdout()),
    })
}

/// `path`, appended to until it passes `limit` bytes, then moved to
/// `path.1` (older files moving up a number) with at most `kept` old files.
/// A file is rotated between two writes, never in the middle of one, so a
/// log line is never split across files.
pub fn rotating_file(
    path: &Path,
    limit: usize,
    kept: usize,
) -> Result<FileRotate<AppendCount>, LogFileError> {
    let failed = |source| LogFileError {
        path: path.to_owned(),
        source,
    };
    // `file-rotate` panics when it cannot create the folder, and opens the
    // file lazily: both are checked here first, so a wrong path is an
    // error that names it.
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).map_err(failed)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    let path = std::path::absolute(path).map_err(failed)?;
    Ok(FileRotate::new(
        path,
        AppendCount::new(kept),
        ContentLimit::BytesSurpassed(limit.max(1)),
        Compression::None,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lab-log-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn files_in(dir: &Path) -> Vec<(String, u64)> {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, entry.metadata().unwrap().len())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_log_file_never_grows_past_its_limit_and_keeps_a_few_old_ones() {
        let dir = scratch("bounded");
        let path = dir.join("logs").join("api.log");
        let mut log = rotating_file(&path, 1000, 3).unwrap();
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..500 {
            log.write_all(line.as_bytes()).unwrap();
        }
        log.flush().unwrap();
        let files = files_in(&dir.join("logs"));
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["api.log", "api.log.1", "api.log.2", "api.log.3"]);
        for (name, size) in &files {
            // One line may pass the limit: a file rotates between lines.
            assert!(*size <= 1000 + 100, "{name} holds {size} bytes");
            assert_eq!(size % 100, 0, "{name} holds whole lines");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_file_that_cannot_be_created_is_an_error_naming_it() {
        let dir = scratch("refused");
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let Err(error) = rotating_file(&blocker.join("api.log"), 1000, 3) else {
            panic!("a log file inside a plain file was accepted");
        };
        assert!(error.to_string().contains("not-a-folder"), "{error}");
        assert!(error.to_string().contains("LAB_LOG_FILE"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
