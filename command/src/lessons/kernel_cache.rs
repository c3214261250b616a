//! Keeping the evcxr kernel's build cache useful across kernels.
//!
//! The cache stores each compiled dependency with the dep-info file (`.d`)
//! rustc wrote. For crates with a build script, that file names generated
//! sources inside the compiling kernel's temporary folder, which is deleted
//! when the kernel exits. A later kernel restores the entry, cargo finds a
//! listed source missing, and rebuilds the crate and everything above it (from
//! the cache again) on every single cell: about 0.7 s per cell here.
//!
//! [`repair`] rewrites cached dep-info files without the sources that no
//! longer exist. Those are build-script outputs, which cargo already tracks
//! through the build script itself.
//!
//! The cache leaves out crates built with incremental compilation, which
//! cargo turns on for crates on a local path: left alone, every fresh
//! kernel would compile the support crate again (most of a first cell's
//! time). Kernels are therefore started with `TMPDIR` set to
//! [`kernel_tmpdir`], whose cargo configuration builds the support crate
//! without it. The crate's build script puts a fingerprint of its sources on
//! the compiler's command line (the cache's key), so an edited crate is
//! compiled again rather than taken stale from the cache.

use std::path::{Path, PathBuf};

/// What the names of [`repair`]'s files in the making contain.
pub const REPAIR_MARK: &str = ".lab-repair-";

/// What [`repair`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repair {
    /// Dep-info files rewritten.
    pub files: usize,
    /// Missing sources dropped from them.
    pub dropped: usize,
}

/// The name of the kernels' folder in the system's temporary folder, which
/// every user can write to: one per user.
fn kernels_name() -> String {
    format!("lab-kernels-{}", nix::unistd::geteuid())
}

/// The cargo configuration of the kernels' build folders: the support crate
/// without incremental compilation, so the build cache keeps it.
const KERNEL_CARGO_CONFIG: &str = "\
# Written by the lab: kernels build their cells in folders under this one.
# The support crate is built without incremental compilation, so that the
# kernel's build cache keeps it (see lessons::kernel_cache).
[profile.dev.package.lab]
incremental = false
";

/// The folder notebook kernels make their build folders in, given to them
/// as `TMPDIR`, with the cargo configuration that lets the build cache keep
/// the support crate; made if missing. It is `lab-kernels-<user id>` in the
/// system's temporary folder: not under `LAB_HOME`, which is inside this
/// workspace by default, where cargo would take a kernel's crate for a stray
/// member.
pub fn kernel_tmpdir() -> std::io::Result<PathBuf> {
    let temp = std::env::temp_dir();
    // A process started by Jupyter (a terminal in Jupyter Lab) has it as
    // its temporary folder already.
    let name = kernels_name();
    let dir = if temp.ends_with(&name) {
        temp
    } else {
        temp.join(name)
    };
    prepare_kernels_dir(&dir)?;
    Ok(dir)
}

/// Makes `dir` if missing and gives it the cargo configuration of kernel
/// builds (the support crate without incremental compilation), which cargo
/// finds from any build folder inside it. A `dir` that belongs to another
/// user, or that others may write to, is refused: it sits in a folder every
/// user can write to, and a cargo configuration planted there would run its
/// author's programs in every kernel.
pub fn prepare_kernels_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    let metadata = std::fs::symlink_metadata(dir)?;
    if !metadata.is_dir() || metadata.uid() != me || metadata.mode() & 0o022 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a folder that only this user can write to: `chmod 700` it if it is \
                 yours, or set TMPDIR to a folder of your own",
                dir.display()
            ),
        ));
    }
    // Cargo also reads the configuration of every folder above the build.
    for above in dir.ancestors().skip(1) {
        let planted = above.join(".cargo");
        if let Ok(metadata) = std::fs::symlink_metadata(&planted)
            && metadata.uid() != me
            && metadata.uid() != 0
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to another user, and cargo would read it in every kernel build \
                     below it; set TMPDIR to a folder of your own",
                    planted.display()
                ),
            ));
        }
    }
    let cargo = dir.join(".cargo");
    std::fs::create_dir_all(&cargo)?;
    let file = cargo.join("config.toml");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(KERNEL_CARGO_CONFIG) {
        std::fs::write(&file, KERNEL_CARGO_CONFIG)?;
    }
    Ok(())
}

/// [`repair`] on the kernel cache `config` names, if it names one.
pub fn repair_configured(config: &lab::config::Config) -> Repair {
    config
        .kernel_cache
        .as_deref()
        .map(repair)
        .unwrap_or_default()
}

/// Drops missing sources from every dep-info file in the cache at `cache`
/// (a folder of entries, each a folder of artifacts). A cache that does not
/// exist yet needs nothing. Files that cannot be read or written are left as
/// they are: a stale entry only costs time, never correctness.
pub fn repair(cache: &Path) -> Repair {
    let mut repair = Repair::default();
    let Ok(entries) = std::fs::read_dir(cache) else {
        return repair;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(artifacts) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        for artifact in artifacts.filter_map(Result::ok) {
            let path = artifact.path();
            if path.extension().is_none_or(|ext| ext != "d") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (fixed, dropped) = without_missing_sources(&text, &|source| source.exists());
            if dropped > 0 && replace(&path, &fixed).is_ok() {
                repair.files += 1;
                repair.dropped += dropped;
            }
        }
    }
    repair
}

/// Puts `text` in the file at `path` whole: written beside it, then renamed
/// over it, so a kernel reading the cache at that moment sees the old file
/// or the new one, never a part of either.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // Unique to this call: kernels of one check repair side by side.
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(
        "{REPAIR_MARK}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// `text` (a Makefile-style dep-info file: `target: source source ...`)
/// without the sources `exists` rejects, and how many were dropped. Spaces
/// inside paths are escaped with a backslash, as rustc writes them.
fn without_missing_sources(text: &str, exists: &dyn Fn(&Path) -> bool) -> (String, usize) {
    let mut dropped = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.split_once(": ") {
            Some((target, sources)) if !line.starts_with('#') => {
                let kept: Vec<&str> = split_escaped(sources)
                    .into_iter()
                    .filter(|source| {
                        let keep = exists(Path::new(&source.replace("\\ ", " ")));
                        if !keep {
                            dropped += 1;
                        }
                        keep
                    })
                    .collect();
                out.push_str(target);
                out.push(':');
                for source in kept {
                    out.push(' ');
                    out.push_str(source);
                }
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    (out, dropped)
}

/// Splits on spaces that are not escaped with a backslash.
fn split_escaped(sources: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = sources.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b' ' && (index == 0 || bytes[index - 1] != b'\\') {
            if index > start {
                parts.push(&sources[start..index]);
            }
            start = index + 1;
        }
    }
    if start < sources.len() {
        parts.push(&sources[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_generated_sources_are_dropped_and_the_rest_kept() {
        let text = "/tmp/.tmpA/target/debug/deps/crunchy-1.d: /src/crunchy/lib.rs /tmp/.tmpA/target/debug/build/crunchy-2/out/lib.rs\n\n/src/crunchy/lib.rs:\n";
        let exists = |path: &Path| !path.starts_with("/tmp/.tmpA");
        let (fixed, dropped) = without_missing_sources(text, &exists);
        assert_eq!(dropped, 1);
        assert_eq!(
            fixed,
            "/tmp/.tmpA/target/debug/deps/crunchy-1.d: /src/crunchy/lib.rs\n\n/src/crunchy/lib.rs:\n"
        );
    }

    #[test]
    fn escaped_spaces_stay_inside_one_path() {
        assert_eq!(
            split_escaped("/a/my\\ file.rs /b.rs"),
            vec!["/a/my\\ file.rs", "/b.rs"]
        );
        let (fixed, dropped) = without_missing_sources("t: /a/my\\ file.rs /gone.rs\n", &|path| {
            path == Path::new("/a/my file.rs")
        });
        assert_eq!((fixed.as_str(), dropped), ("t: /a/my\\ file.rs\n", 1));
    }

    #[test]
    fn a_cache_on_disk_is_rewritten_in_place() {
        let cache = std::env::temp_dir().join(format!("lab-kernel-cache-{}", std::process::id()));
        let entry = cache.join("123");
        std::fs::create_dir_all(&entry).unwrap();
        let real = entry.join("lib.rs");
        std::fs::write(&real, "").unwrap();
        let dep_info = entry.join("x.d");
        std::fs::write(
            &dep_info,
            format!("x.d: {} /no/such/out/lib.rs\n", real.display()),
        )
        .unwrap();
        assert_eq!(
            repair(&cache),
            Repair {
                files: 1,
                dropped: 1
            }
        );
        assert_eq!(
            std::fs::read_to_string(&dep_info).unwrap(),
            format!("x.d: {}\n", real.display())
        );
        assert_eq!(repair(&cache), Repair::default(), "nothing left to do");
        std::fs::remove_dir_all(&cache).unwrap();
        assert_eq!(repair(&cache), Repair::default(), "no cache yet");
    }
}
