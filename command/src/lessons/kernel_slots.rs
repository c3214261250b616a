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

/// How many kernels at once get a lasting folder. Each folder holds a debug
/// build of the support crate's dependencies (about 0.7 GB, 1.3 GB with the
/// web stack); the notebook check runs at most four kernels at once.
pub const SLOTS: usize = 4;

/// The launcher Jupyter starts for the `rust` kernel. Its arguments are the
/// kernel program, Jupyter's connection file, the folder of build folders
/// and how many there are ([`SLOTS`]).
/// The lock is taken on descriptor 9, which the kernel inherits, so it lasts
/// until the kernel and its compilations have exited. Without `flock`, or
/// with every folder taken, the kernel runs as evcxr installs it.
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
while [ "$slot" -lt "$slots" ]; do
    folder=$folders/$slot
    slot=$((slot + 1))
    mkdir -p "$folder" 2>/dev/null && [ -w "$folder" ] || continue
    exec 9>>"$folder/.kernel-lock"
    if flock -n 9 2>/dev/null; then
        export EVCXR_TMPDIR="$folder"
        exec "$kernel" --control_file "$connection"
    fi
done
exec 9>&-
exec "$kernel" --control_file "$connection"
"#;

/// The folder of lasting build folders: `lab-kernels-<user id>` in
/// `/var/tmp`, which is on disk and kept across restarts (the system's
/// temporary folder may live in memory); the temporary folder's
/// `lab-kernels/slots` on a system without `/var/tmp`. Made if missing, with
/// the cargo configuration of kernel builds
/// ([`super::kernel_cache::prepare_kernels_dir`], which also refuses a folder
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
    let dir = if shared.is_dir() {
        shared.join(format!("lab-kernels-{}", nix::unistd::geteuid()))
    } else {
        super::kernel_cache::kernel_tmpdir()?.join("slots")
    };
    super::kernel_cache::prepare_kernels_dir(&dir)?;
    Ok(dir)
}

/// The command line the kernel's `kernel.json` must have: the launcher, run
/// by `/bin/sh` from the kernel's resource folder, with `kernel` (the evcxr
/// program), `slots` (from [`slots_dir`]) and their number.
pub fn launcher_argv(kernel: &Path, slots: &Path) -> Vec<String> {
    vec![
        "/bin/sh".to_owned(),
        format!("{{resource_dir}}/{LAUNCHER_NAME}"),
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
            fix: "cargo lab up".into(),
        })?;
    let Some(fields) = spec.as_object_mut() else {
        return Err(LessonError::Kernel {
            reason: format!("{} is not a JSON object", spec_file.display()),
            fix: "cargo lab up".into(),
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

    /// A scratch folder of this test's own.
    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lab-kernel-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs the launcher with `kernel` standing in for evcxr.
    fn launch(kernel: &Path, folders: &Path) -> Child {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(LAUNCHER)
            .arg(LAUNCHER_NAME)
            .arg(kernel)
            .arg("connection.json")
            .arg(folders)
            .arg(SLOTS.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The line the stand-in kernel printed when it started.
    fn started(child: &mut Child) -> String {
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_owned()
    }

    #[test]
    fn each_running_kernel_gets_a_folder_of_its_own_and_the_next_one_reuses_it() {
        let dir = scratch();
        // The stand-in prints the folder it was given and its arguments, then
        // runs until `stop` exists, holding its folder's lock.
        let kernel = dir.join("kernel");
        let stop = dir.join("stop");
        let script = format!(
            "#!/bin/sh\necho \"${{EVCXR_TMPDIR:-temporary}} $*\"\nwhile [ ! -e '{}' ]; do sleep 0.05; done\n",
            stop.display()
        );
        std::fs::write(&kernel, script).unwrap();
        std::fs::set_permissions(&kernel, std::fs::Permissions::from_mode(0o755)).unwrap();
        let folders = dir.join("folders");
        let arguments = "--control_file connection.json";

        // Each kernel has started (and holds its lock) before the next one.
        let mut kernels: Vec<Child> = Vec::new();
        let mut said: Vec<String> = Vec::new();
        for _ in 0..=SLOTS {
            let mut child = launch(&kernel, &folders);
            said.push(started(&mut child));
            kernels.push(child);
        }
        let mut expected: Vec<String> = (0..SLOTS)
            .map(|slot| format!("{}/{slot} {arguments}", folders.display()))
            .collect();
        expected.push(format!("temporary {arguments}"));
        assert_eq!(
            said, expected,
            "kernels running at once get folders of their own, and one too many a temporary one"
        );
        std::fs::write(&stop, "").unwrap();
        for mut child in kernels {
            child.wait().unwrap();
        }

        std::fs::remove_file(&stop).unwrap();
        let mut again = launch(&kernel, &folders);
        let line = started(&mut again);
        std::fs::write(&stop, "").unwrap();
        again.wait().unwrap();
        assert_eq!(
            line,
            format!("{}/0 {arguments}", folders.display()),
            "once the kernels have exited, the next one gets the first folder back"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
