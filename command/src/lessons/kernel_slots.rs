//! Build folders that outlive the kernel that used them.
//!
//! evcxr builds every cell in a folder of its own, by default a temporary
//! one deleted when the kernel exits. A fresh kernel therefore starts from an
//! empty folder, and its first cell has cargo restore every dependency of the
//! support crate from the build cache: about 140 crates, most of ten seconds
//! before the cell itself is compiled.
//!
//! The lab registers the kernel with a small launcher ([`LAUNCHER`]) that
//! gives each kernel one of a few numbered folders under [`slots_dir`]
//! instead (`EVCXR_TMPDIR`). The folder keeps its `target/` between kernels,
//! so the next kernel's cargo finds the dependencies compiled and up to date
//! and only the cells are built. A folder belongs to one kernel at a time:
//! the launcher takes a lock on it that the kernel holds for as long as it
//! runs, and a kernel that finds every folder taken gets a temporary one, as
//! without the launcher.

use std::path::{Path, PathBuf};

use super::LessonError;

/// The launcher's file name in the kernel's folder of Jupyter resources.
pub const LAUNCHER_NAME: &str = "lab-kernel.sh";

/// How many kernels at once get a lasting folder, and as many engines of
/// `cargo test`'s notebook check ([`EngineFolder`]). Each folder holds a
/// debug build of the support crate's dependencies (about 0.7 GB, 1.3 GB
/// with the web stack); the notebook checks run up to four at once unless
/// `LAB_NOTEBOOK_JOBS` asks for more, and those beyond get temporary
/// folders.
pub const SLOTS: usize = 4;

/// The launcher Jupyter starts for the `rust` kernel. Its arguments are the
/// kernel program, Jupyter's connection file, the folder of build folders
/// and how many there are ([`SLOTS`]).
/// The lock is taken on descriptor 9, which the kernel inherits, so it lasts
/// until the kernel and its compilations have exited. Without `flock`, with
/// every folder taken, or with a folder that is not this user's (the folders
/// live in a folder every user can write to), the kernel runs as evcxr
/// installs it, in a temporary folder.
pub const LAUNCHER: &str = r#"#!/bin/sh
# Written by the Rust teaching lab (`cargo lab up`): starts the evcxr kernel
# in a build folder that outlives it, so the next kernel finds the compiled
# dependencies in place. Arguments: the kernel program, Jupyter's connection
# file, the folder of build folders, how many of them there are.
kernel=$1
connection=$2
folders=$3
slots=$4
slot=0
# Only a folder of this user's, never one another user put in its place.
if [ -d "$folders" ] && [ ! -L "$folders" ] && [ -O "$folders" ]; then
    while [ "$slot" -lt "$slots" ]; do
        folder=$folders/$slot
        slot=$((slot + 1))
        [ -d "$folder" ] || mkdir "$folder" 2>/dev/null
        [ -d "$folder" ] && [ ! -L "$folder" ] && [ -O "$folder" ] || continue
        command exec 9>>"$folder/.kernel-lock" 2>/dev/null || continue
        if flock -n 9 2>/dev/null; then
            export EVCXR_TMPDIR="$folder"
            exec "$kernel" --control_file "$connection"
        fi
    done
fi
exec 9>&-
exec "$kernel" --control_file "$connection"
"#;

/// The folder of lasting build folders: `lab-kernels-<user id>` in
/// `/var/tmp`, which is on disk and kept across restarts (the system's
/// temporary folder may live in memory); `slots` in the kernels' temporary
/// folder ([`super::kernel_cache::kernel_tmpdir`]) on a system without
/// `/var/tmp`, or when the one there is refused. Made if missing, with the
/// cargo configuration of kernel builds
/// ([`super::kernel_cache::prepare_kernels_dir`], which refuses a folder
/// another user could have planted).
///
/// Not under the home folder: the compiled cells find the Rust standard
/// library through a path relative to their own folder, which rustc works
/// out one folder too deep. Climbing one folder too many is harmless only
/// when the way from the build folder to the toolchain (`~/.rustup`) goes
/// through `/`; inside the home folder every cell fails to load ("dlopen
/// failed").
pub fn slots_dir() -> std::io::Result<PathBuf> {
    let shared = Path::new("/var/tmp");
    let temporary = || -> std::io::Result<PathBuf> {
        let dir = super::kernel_cache::kernel_tmpdir()?.join("slots");
        super::kernel_cache::prepare_kernels_dir(&dir)?;
        Ok(dir)
    };
    if !shared.is_dir() {
        return temporary();
    }
    let dir = shared.join(format!("lab-kernels-{}", nix::unistd::geteuid()));
    match super::kernel_cache::prepare_kernels_dir(&dir) {
        Ok(()) => Ok(dir),
        // Taken by another user: the temporary folder, which `TMPDIR` moves.
        Err(_) => temporary(),
    }
}

/// A lasting build folder for an evcxr engine that `cargo test`'s notebook
/// check runs, held by this process until dropped: the launcher's idea in
/// folders of their own (`engine-<n>` beside the kernels' folders, [`SLOTS`]
/// of them), since that engine is another program than the Jupyter kernel
/// and would otherwise make each build folder's cargo rebuild what the
/// other had built. The lock is the launcher's kind (`flock` on
/// `.kernel-lock`), but only this process holds it, not the programs it
/// starts: the engine waits for its compilations, so they end first unless
/// the process is killed.
#[derive(Debug)]
pub struct EngineFolder {
    path: PathBuf,
    _lock: std::fs::File,
}

impl EngineFolder {
    /// The first engine folder no other process holds; `None` when every
    /// one is taken or none can be used, where the engine builds in a
    /// temporary folder as before.
    pub fn claim() -> Option<EngineFolder> {
        EngineFolder::claim_in(&slots_dir().ok()?)
    }

    /// [`EngineFolder::claim`] among the engine folders in `folders`.
    fn claim_in(folders: &Path) -> Option<EngineFolder> {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        (0..SLOTS).find_map(|slot| {
            let path = folders.join(format!("engine-{slot}"));
            // Made without following links; one already there must be a
            // real folder of this user's.
            let _ = std::fs::create_dir(&path);
            let metadata = std::fs::symlink_metadata(&path).ok()?;
            if !metadata.is_dir() || metadata.uid() != me {
                return None;
            }
            let lock = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path.join(".kernel-lock"))
                .ok()?;
            lock.try_lock().ok()?;
            Some(EngineFolder { path, _lock: lock })
        })
    }

    /// The folder, for `EVCXR_TMPDIR`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The command line the kernel's `kernel.json` must have: the launcher in
/// the kernel's folder of resources `resources`, run by `/bin/sh`, with
/// `kernel` (the evcxr program), `slots` (from [`slots_dir`]) and their
/// number. The launcher's path is written out rather than as Jupyter's
/// `{resource_dir}`, which some Jupyter front ends do not fill in.
pub fn launcher_argv(resources: &Path, kernel: &Path, slots: &Path) -> Vec<String> {
    vec![
        "/bin/sh".to_owned(),
        resources.join(LAUNCHER_NAME).display().to_string(),
        kernel.display().to_string(),
        "{connection_file}".to_owned(),
        slots.display().to_string(),
        SLOTS.to_string(),
    ]
}

/// Puts the launcher into the kernel's resource folder `resources` (where
/// `evcxr_jupyter --install` wrote `kernel.json`) and points `kernel.json`'s
/// command line at it; the rest of the file is kept.
pub fn install(resources: &Path, argv: &[String]) -> Result<(), LessonError> {
    let io = |context: String| move |source| LessonError::Io { context, source };
    let launcher = resources.join(LAUNCHER_NAME);
    std::fs::write(&launcher, LAUNCHER)
        .map_err(io(format!("cannot write {}", launcher.display())))?;
    let spec_file = resources.join("kernel.json");
    let text = std::fs::read_to_string(&spec_file)
        .map_err(io(format!("cannot read {}", spec_file.display())))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| LessonError::Kernel {
            reason: format!("{} is not JSON: {error}", spec_file.display()),
            fix: format!("rm -r {} && cargo lab up", resources.display()),
        })?;
    let Some(fields) = spec.as_object_mut() else {
        return Err(LessonError::Kernel {
            reason: format!("{} is not a JSON object", spec_file.display()),
            fix: format!("rm -r {} && cargo lab up", resources.display()),
        });
    };
    fields.insert("argv".into(), serde_json::json!(argv));
    let text = serde_json::to_string_pretty(&spec).unwrap_or_default();
    std::fs::write(&spec_file, text).map_err(io(format!("cannot write {}", spec_file.display())))
}

/// Whether the launcher in `resources` is the one this lab writes.
pub fn launcher_is_current(resources: &Path) -> bool {
    std::fs::read_to_string(resources.join(LAUNCHER_NAME)).is_ok_and(|text| text == LAUNCHER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Child, Command, Stdio};

    /// Stand-in kernels started by a test, stopped (the file they wait
    /// for written, then killed) however the test ends.
    struct Kernels {
        stop: PathBuf,
        running: Vec<Child>,
    }

    impl Kernels {
        fn stop(&mut self) {
            let _ = std::fs::write(&self.stop, "");
            for mut child in self.running.drain(..) {
                if child.wait().is_err() {
                    let _ = child.kill();
                }
            }
        }
    }

    impl Drop for Kernels {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.stop, "");
            for child in &mut self.running {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// A scratch folder of the test `name`'s own.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lab-kernel-slots-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs the launcher with `kernel` standing in for evcxr; returns the
    /// line the stand-in printed when it started.
    fn launch(kernels: &mut Kernels, kernel: &Path, folders: &Path) -> String {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(LAUNCHER)
            .arg(LAUNCHER_NAME)
            .arg(kernel)
            .arg("connection.json")
            .arg(folders)
            .arg(SLOTS.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let read = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        kernels.running.push(child);
        read.unwrap();
        line.trim().to_owned()
    }

    #[test]
    fn each_running_kernel_gets_a_folder_of_its_own_and_the_next_one_reuses_it() {
        if Command::new("flock").arg("--version").output().is_err() {
            eprintln!("skipped: no `flock` here, so the launcher always uses a temporary folder");
            return;
        }
        let dir = scratch("launcher");
        // The stand-in prints the folder it was given and its arguments, then
        // runs (at most a minute) until `stop` exists, holding its lock.
        let kernel = dir.join("kernel");
        let stop = dir.join("stop");
        let script = format!(
            "#!/bin/sh\necho \"${{EVCXR_TMPDIR:-temporary}} $*\"\n\
             n=0; while [ ! -e '{}' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done\n",
            stop.display()
        );
        std::fs::write(&kernel, script).unwrap();
        std::fs::set_permissions(&kernel, std::fs::Permissions::from_mode(0o755)).unwrap();
        let folders = dir.join("folders");
        std::fs::create_dir(&folders).unwrap();
        let arguments = "--control_file connection.json";
        let mut kernels = Kernels {
            stop: stop.clone(),
            running: Vec::new(),
        };

        // Each kernel has started (and holds its lock) before the next one.
        let said: Vec<String> = (0..=SLOTS)
            .map(|_| launch(&mut kernels, &kernel, &folders))
            .collect();
        let mut expected: Vec<String> = (0..SLOTS)
            .map(|slot| format!("{}/{slot} {arguments}", folders.display()))
            .collect();
        expected.push(format!("temporary {arguments}"));
        assert_eq!(
            said, expected,
            "kernels running at once get folders of their own, and one too many a temporary one"
        );
        kernels.stop();

        std::fs::remove_file(&stop).unwrap();
        let again = launch(&mut kernels, &kernel, &folders);
        kernels.stop();
        assert_eq!(
            again,
            format!("{}/0 {arguments}", folders.display()),
            "once the kernels have exited, the next one gets the first folder back"
        );

        // A folder of build folders that is not a real folder of this user's
        // (here a link to one) is never used.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&folders, &link).unwrap();
        std::fs::remove_file(&stop).unwrap();
        let linked = launch(&mut kernels, &kernel, &link);
        kernels.stop();
        assert_eq!(
            linked,
            format!("temporary {arguments}"),
            "a link in place of the folders must not be followed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn engines_running_at_once_hold_folders_of_their_own() {
        let dir = scratch("engines");
        let held: Vec<EngineFolder> = std::iter::from_fn(|| EngineFolder::claim_in(&dir)).collect();
        let paths: Vec<PathBuf> = held.iter().map(|f| f.path().to_owned()).collect();
        let expected: Vec<PathBuf> = (0..SLOTS)
            .map(|n| dir.join(format!("engine-{n}")))
            .collect();
        assert_eq!(
            paths, expected,
            "each engine gets a folder no other holds, up to {SLOTS}"
        );
        let mut held = held;
        held.remove(1);
        let next = EngineFolder::claim_in(&dir).map(|f| f.path().to_owned());
        assert_eq!(
            next,
            Some(dir.join("engine-1")),
            "a folder given back is claimed again"
        );

        // A link in place of an engine folder is not used.
        let other = scratch("engines-other");
        drop(held);
        std::fs::remove_dir_all(dir.join("engine-0")).unwrap();
        std::os::unix::fs::symlink(&other, dir.join("engine-0")).unwrap();
        let claimed = EngineFolder::claim_in(&dir).map(|f| f.path().to_owned());
        assert_eq!(
            claimed,
            Some(dir.join("engine-1")),
            "a link must not be followed"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other);
    }
}
