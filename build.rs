//! Gives every build of the support crate a fingerprint of its sources, as
//! the `lab_source` cfg on the compiler's command line.
//!
//! The evcxr kernel keeps compiled crates in a build cache keyed by the
//! compiler's command line alone, which for a crate on a local path stays
//! the same when its sources change. Notebook kernels build this crate
//! without incremental compilation so that the cache keeps it (see
//! `lab_command::lessons::kernel_cache`); with the fingerprint on the
//! command line, an edited source is a new cache entry, never a stale hit.
//! Only `src/` counts: the command (`command/`) is another crate, which
//! kernels never build.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=src");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(lab_source, values(any()))");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        hasher.write(file.to_string_lossy().as_bytes());
        // A file that cannot be read counts as empty: the build itself
        // will report it.
        hasher.write(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo::rustc-cfg=lab_source=\"{:016x}\"", hasher.finish());
}

/// Every file under `dir`, depth first.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
