//! Knowing an exercise's original text: to restore it (`lab reset`) and to
//! check that the committed exercises are the untouched ones.
//!
//! `exercises/pristine.lock` records a hash of each exercise's original file.
//! The original itself comes from git history: the newest commit whose copy
//! of the file has that hash. Students may commit their own work freely; the
//! original stays findable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{Catalog, Exercise};

/// Why an original could not be restored or recorded.
#[derive(Debug, thiserror::Error)]
pub enum PristineError {
    /// The lock file is missing, unreadable or has no entry for the exercise.
    #[error("{0}")]
    Lock(String),
    /// Git history has no copy with the recorded hash.
    #[error(
        "no original of {path} was found in git history; copy it from the course repository again"
    )]
    NotInHistory {
        /// The exercise file.
        path: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A stable 64-bit FNV-1a hash of `bytes`, in hex: the same on every
/// machine and Rust version, unlike `std`'s hasher.
pub fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The lock file's path.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join("exercises").join("pristine.lock")
}

/// The recorded hashes, by exercise id.
pub fn recorded(root: &Path) -> Result<BTreeMap<String, String>, PristineError> {
    let path = lock_path(root);
    let text = std::fs::read_to_string(&path).map_err(|error| {
        PristineError::Lock(format!(
            "cannot read {}: {error}; run `cargo lab check-exercises --record`",
            path.display()
        ))
    })?;
    Ok(text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once(' '))
        .map(|(id, hash)| (id.to_owned(), hash.trim().to_owned()))
        .collect())
}

/// Records the current exercise files as the originals.
pub fn record(catalog: &Catalog) -> Result<(), PristineError> {
    let mut text = String::from(
        "# Hashes of the original exercise files, written by `cargo lab check-exercises --record`.\n",
    );
    for exercise in &catalog.exercises {
        let bytes = std::fs::read(exercise.exercise_file(&catalog.root)).unwrap_or_default();
        text.push_str(&format!("{} {}\n", exercise.id, fingerprint(&bytes)));
    }
    let path = lock_path(&catalog.root);
    std::fs::write(&path, text).map_err(|source| PristineError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// The original text of `exercise`, from git history.
pub fn original(catalog: &Catalog, exercise: &Exercise) -> Result<Vec<u8>, PristineError> {
    let hashes = recorded(&catalog.root)?;
    let wanted = hashes.get(&exercise.id).ok_or_else(|| {
        PristineError::Lock(format!(
            "{} has no entry for {}",
            lock_path(&catalog.root).display(),
            exercise.id
        ))
    })?;
    let relative = format!("exercises/src/{}", exercise.file);
    let not_found = || PristineError::NotInHistory {
        path: relative.clone(),
    };
    let commits =
        git(&catalog.root, &["log", "--format=%H", "--", &relative]).ok_or_else(not_found)?;
    for commit in String::from_utf8_lossy(&commits).lines() {
        if let Some(bytes) = git(&catalog.root, &["show", &format!("{commit}:{relative}")])
            && &fingerprint(&bytes) == wanted
        {
            return Ok(bytes);
        }
    }
    Err(not_found())
}

/// Puts the original text of `exercise` back in place.
pub fn restore(catalog: &Catalog, exercise: &Exercise) -> Result<PathBuf, PristineError> {
    let bytes = original(catalog, exercise)?;
    put_back(catalog, exercise, &bytes)
}

/// Writes `bytes`, the original found by [`original`], as the exercise's
/// file, making its folder again if it was deleted.
pub fn put_back(
    catalog: &Catalog,
    exercise: &Exercise,
    bytes: &[u8],
) -> Result<PathBuf, PristineError> {
    let path = exercise.exercise_file(&catalog.root);
    let folder = path.parent().unwrap_or(&catalog.root);
    std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|source| PristineError::Write {
            path: path.display().to_string(),
            source,
        })?;
    Ok(path)
}

fn git(root: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprints_are_pinned() {
        assert_eq!(fingerprint(b""), "cbf29ce484222325");
        assert_eq!(fingerprint(b"a"), "af63dc4c8601ec8c");
    }
}
