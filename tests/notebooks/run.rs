//! `cargo test`'s notebook check: every code cell of every notebook in
//! `notebooks/`, run top to bottom with the evcxr engine (the one inside the
//! Jupyter kernel), against a fresh test environment with the standard data
//! set. A compile error, a panic, an `Err` or an output that differs from the
//! stored one (outside cells tagged `volatile`) fails the test.
//!
//! `cargo test -p notebook-tests -- 02` runs only the notebooks whose names
//! start with `02`.

use std::path::Path;
use std::process::ExitCode;

use lab_command::lessons::kernel_slots::EngineFolder;

fn main() -> ExitCode {
    // The same binary is the kernel's child process and cargo's compiler
    // wrapper for the build cache; this returns only in the test itself.
    evcxr::runtime_hook();
    // The engine makes its build folders under TMPDIR, which the support
    // crate's build cache needs to be the lab's kernel folder (as for
    // kernels Jupyter starts; see `lab_command::lessons::kernel_cache`).
    match lab_command::lessons::kernel_cache::kernel_tmpdir() {
        // SAFETY: nothing else runs yet: no thread has been started.
        Ok(dir) => unsafe { std::env::set_var("TMPDIR", dir) },
        Err(error) => {
            eprintln!("notebook check could not run: cannot prepare the kernels' folder: {error}");
            return ExitCode::FAILURE;
        }
    }
    // Started again by the check for one notebook's engine: a lasting build
    // folder of its own if one is free, held until this process exits.
    if let Some(path) = std::env::var_os(notebook_tests::ONE_NOTEBOOK) {
        let folder = EngineFolder::claim();
        match &folder {
            // SAFETY: still no thread has been started.
            Some(folder) => unsafe { std::env::set_var("EVCXR_TMPDIR", folder.path()) },
            // A folder named in the caller's environment could be in use
            // by another engine: a temporary one instead.
            // SAFETY: as above.
            None => unsafe { std::env::remove_var("EVCXR_TMPDIR") },
        }
        return match notebook_tests::run_one(Path::new(&path)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("cannot run the notebook: {error}");
                ExitCode::from(2)
            }
        };
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    match notebook_tests::run_all(&filters) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("notebook check could not run: {error}");
            ExitCode::FAILURE
        }
    }
}
