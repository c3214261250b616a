//! A kernel's own view of the shared build cache, so that kernels can build
//! side by side.
//!
//! evcxr's build cache (`~/.cache/evcxr`: one folder per compiled crate) is
//! not written for concurrent use: a hit rewrites the entry's `hits` counter
//! in place, and a kernel that reads it at that moment fails its build
//! ("Failed to wrap rustc: cannot parse integer from empty string"). A
//! [`PrivateCache`] gives one kernel a cache folder of its own, made in about
//! a second: every entry's files are hard links to the shared ones, which
//! nothing rewrites in place, except the counter, which is copied. The kernel
//! finds it through `XDG_CACHE_HOME`. When the kernel is done, entries it
//! compiled (misses) move into the shared cache, each with one rename, so
//! the next kernel finds them, and the copy is deleted.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The file evcxr rewrites on every hit.
const COUNTER: &str = "hits";

/// The file evcxr writes last when it stores an entry: an entry without it
/// is incomplete and is never shared.
const LAST_WRITTEN: &str = "stderr";

/// One kernel's cache folder; deleted on drop, after its new entries have
/// moved into the shared cache.
#[derive(Debug)]
pub struct PrivateCache {
    /// What the kernel's `XDG_CACHE_HOME` is.
    home: PathBuf,
    /// The cache folder inside it.
    copy: PathBuf,
    /// The shared cache (`…/evcxr`).
    shared: PathBuf,
}

impl PrivateCache {
    /// A copy of the shared cache at `shared`, in a new folder beside it
    /// (normally on the same file system, where files can be hard links and
    /// new entries move back with a rename). Incomplete entries, and entries
    /// removed while they are copied, are left out; a shared cache that does
    /// not exist yet gives an empty copy.
    pub fn new(shared: &Path) -> io::Result<PrivateCache> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let parent = shared.parent().unwrap_or(Path::new("."));
        let name = shared.file_name().unwrap_or("evcxr".as_ref());
        let copies = parent.join("lab-kernel-caches");
        lab::services::process::remove_dirs_of_ended(&copies);
        let home = copies.join(format!(
            "p{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let cache = PrivateCache {
            copy: home.join(name),
            home,
            shared: shared.to_owned(),
        };
        std::fs::create_dir_all(&cache.copy)?;
        let Ok(entries) = std::fs::read_dir(shared) else {
            return Ok(cache);
        };
        for entry in entries.filter_map(Result::ok) {
            if !is_complete(&entry.path()) {
                continue;
            }
            let to = cache.copy.join(entry.file_name());
            // An entry another kernel evicts meanwhile is left out whole: a
            // kernel only misses what is not there.
            if copy_entry(&entry.path(), &to).is_err() {
                let _ = std::fs::remove_dir_all(&to);
            }
        }
        Ok(cache)
    }

    /// The folder to give the kernel as `XDG_CACHE_HOME`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Moves the complete entries the kernel added into the shared cache
    /// (one that appeared there meanwhile is kept), and says how many moved.
    pub fn share_new_entries(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.copy) else {
            return 0;
        };
        let mut moved = 0;
        for entry in entries.filter_map(Result::ok) {
            let target = self.shared.join(entry.file_name());
            if target.exists() || !is_complete(&entry.path()) {
                continue;
            }
            // A rename of a whole folder: another kernel sees the entry
            // complete or not at all.
            if std::fs::create_dir_all(&self.shared).is_ok()
                && std::fs::rename(entry.path(), &target).is_ok()
            {
                moved += 1;
            }
        }
        moved
    }
}

/// Whether evcxr finished storing the entry at `dir`.
fn is_complete(dir: &Path) -> bool {
    dir.join(LAST_WRITTEN).is_file()
}

/// Makes `to` the same entry as `from`: each file a hard link (a copy when
/// the folders are on different file systems), the hit counter a file of
/// its own, and the file that marks the entry complete last.
fn copy_entry(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir(to)?;
    let mut files: Vec<_> = std::fs::read_dir(from)?
        .filter_map(Result::ok)
        .map(|file| file.file_name())
        // A dep-info file being repaired this moment (see `kernel_cache`).
        .filter(|name| {
            !name
                .to_string_lossy()
                .contains(super::kernel_cache::REPAIR_MARK)
        })
        .collect();
    files.sort_by_key(|name| name == LAST_WRITTEN);
    for name in files {
        let (source, target) = (from.join(&name), to.join(&name));
        if name == COUNTER {
            // Read as a number: a student's kernel may be rewriting it this
            // moment, and an empty counter would fail this kernel's build.
            let hits: u64 = std::fs::read_to_string(&source)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0);
            std::fs::write(&target, hits.to_string())?;
        } else if std::fs::hard_link(&source, &target).is_err() {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

impl Drop for PrivateCache {
    fn drop(&mut self) {
        self.share_new_entries();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of this test's own.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn entry(cache: &Path, key: &str, complete: bool) {
        let dir = cache.join(key);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libx.rlib"), key).unwrap();
        std::fs::write(dir.join(COUNTER), "3").unwrap();
        if complete {
            std::fs::write(dir.join(LAST_WRITTEN), "artifact").unwrap();
        }
    }

    #[test]
    fn a_kernel_reads_shared_entries_and_its_counters_are_its_own() {
        let root = scratch("private-cache-copy");
        let shared = root.join("evcxr");
        entry(&shared, "1", true);
        entry(&shared, "2", false);
        let cache = PrivateCache::new(&shared).unwrap();
        let copy = cache.home().join("evcxr");
        assert_eq!(
            std::fs::read_to_string(copy.join("1/libx.rlib")).unwrap(),
            "1"
        );
        assert!(
            !copy.join("2").exists(),
            "an incomplete entry is not offered"
        );
        std::fs::write(copy.join("1").join(COUNTER), "4").unwrap();
        assert_eq!(
            std::fs::read_to_string(shared.join("1").join(COUNTER)).unwrap(),
            "3",
            "a hit in the copy leaves the shared counter alone"
        );
        let home = cache.home().to_owned();
        drop(cache);
        assert!(!home.exists(), "the copy is deleted");
        assert!(
            shared.join("1/libx.rlib").is_file(),
            "the shared entry stays"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn entries_a_kernel_compiled_are_shared_when_it_ends() {
        let root = scratch("private-cache-share");
        let shared = root.join("evcxr");
        entry(&shared, "1", true);
        let cache = PrivateCache::new(&shared).unwrap();
        let copy = cache.home().join("evcxr");
        entry(&copy, "new", true);
        entry(&copy, "torn", false);
        assert_eq!(cache.share_new_entries(), 1);
        assert_eq!(
            std::fs::read_to_string(shared.join("new/libx.rlib")).unwrap(),
            "new"
        );
        assert!(
            !shared.join("torn").exists(),
            "an incomplete entry stays private"
        );
        drop(cache);
        assert!(shared.join("new/hits").is_file());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_counter_caught_mid_rewrite_is_copied_as_a_number() {
        let root = scratch("private-cache-counter");
        let shared = root.join("evcxr");
        entry(&shared, "1", true);
        std::fs::write(shared.join("1").join(COUNTER), "").unwrap();
        std::fs::write(shared.join("1").join("x.d.lab-repair-1-0"), "half").unwrap();
        let cache = PrivateCache::new(&shared).unwrap();
        let copy = cache.home().join("evcxr").join("1");
        assert_eq!(std::fs::read_to_string(copy.join(COUNTER)).unwrap(), "0");
        assert!(
            !copy.join("x.d.lab-repair-1-0").exists(),
            "a repair in the making is left out"
        );
        drop(cache);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn no_shared_cache_yet_gives_an_empty_copy() {
        let root = scratch("private-cache-empty");
        let cache = PrivateCache::new(&root.join("evcxr")).unwrap();
        assert!(cache.home().join("evcxr").is_dir());
        drop(cache);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
