//! Measures a fresh kernel's first cell, two ways in one run:
//! `cargo run -p notebook-tests --example first_cell -- 01 04` takes the
//! first code cell of each notebook whose name starts with an argument and
//! runs it as the first cell of fresh evcxr engines started in `notebooks/`
//! (so its `evcxr.toml` and build cache apply):
//!
//! - in a **temporary build folder**, evcxr's default and what every kernel
//!   got before the lab registered its launcher: cargo restores each
//!   dependency from the build cache;
//! - in a **lasting build folder**, what the launcher gives a kernel
//!   (`lab_command::lessons::kernel_slots`): run once to fill it, then
//!   measured.
//!
//! It prints both times and the engine's phase timings. The lab must be up
//! (the cell connects to its servers) and its build cache warm (`cargo lab
//! up` warms it). Each engine runs in a child process of this program, which
//! is how each gets its own `EVCXR_TMPDIR`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use lab_command::lessons::{Notebook, ipynb, kernel_cache, kernel_slots};

/// Set in a child process: the cell file it runs.
const CHILD: &str = "LAB_FIRST_CELL_FILE";

fn main() -> ExitCode {
    evcxr::runtime_hook();
    let outcome = match std::env::var_os(CHILD) {
        Some(file) => run_one(Path::new(&file)),
        None => compare(std::env::args().skip(1).collect()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("first_cell: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The folder with the course's notebooks.
fn notebooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../notebooks")
}

/// Times the first cells of the notebooks `prefixes` name, in a temporary
/// build folder and in a lasting one.
fn compare(prefixes: Vec<String>) -> Result<(), String> {
    if prefixes.is_empty() {
        return Err("name the notebooks to measure, for example: -- 01 04".into());
    }
    let all = ipynb::discover(&notebooks()).map_err(|error| error.to_string())?;
    let lasting = kernel_slots::slots_dir()
        .map_err(|error| format!("cannot prepare the lasting build folders: {error}"))?
        .join("first-cell-bench");
    let scratch = kernel_cache::kernel_tmpdir()
        .map_err(|error| format!("cannot prepare the kernels' folder: {error}"))?;
    for prefix in prefixes {
        let chosen: Vec<&PathBuf> = all
            .iter()
            .filter(|path| {
                path.file_stem()
                    .is_some_and(|stem| stem.to_string_lossy().starts_with(&prefix))
            })
            .collect();
        if chosen.is_empty() {
            return Err(format!("no notebook's name starts with {prefix}"));
        }
        for path in chosen {
            let notebook = Notebook::load(path).map_err(|error| error.to_string())?;
            let name = notebook.name();
            let cell = notebook
                .code_cells()
                .into_iter()
                .next()
                .ok_or_else(|| format!("{name} has no code cell"))?;
            let file = scratch.join(format!("first-cell-{name}.rs"));
            std::fs::write(&file, &cell.source)
                .map_err(|error| format!("cannot write {}: {error}", file.display()))?;
            println!("{name}, temporary build folder:");
            let temporary = run_child(&file, None)?;
            println!("{name}, lasting build folder (filling it, not counted):");
            run_child(&file, Some(&lasting))?;
            println!("{name}, lasting build folder:");
            let warm = run_child(&file, Some(&lasting))?;
            println!(
                "{name}: first cell {temporary:.1} s in a temporary build folder, {warm:.1} s in a lasting one"
            );
        }
    }
    Ok(())
}

/// Runs `file` as the first cell of a fresh engine in a child process,
/// building in `folder` (a temporary folder when `None`); the seconds the
/// child measured.
fn run_child(file: &Path, folder: Option<&Path>) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut child = Command::new(exe);
    child.env(CHILD, file);
    match folder {
        Some(folder) => child.env("EVCXR_TMPDIR", folder),
        None => child.env_remove("EVCXR_TMPDIR"),
    };
    let output = child
        .output()
        .map_err(|error| format!("cannot start a child: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!(
            "the cell failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("  cell: ")?
                .strip_suffix(" s")?
                .parse()
                .ok()
        })
        .ok_or_else(|| "the child printed no time".to_owned())
}

/// In a child: runs `file`'s text as the first cell of a fresh engine
/// started in `notebooks/`, printing how long it took and the engine's
/// phases.
fn run_one(file: &Path) -> Result<(), String> {
    let cell = std::fs::read_to_string(file)
        .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let dir = kernel_cache::kernel_tmpdir()
        .map_err(|error| format!("cannot prepare the kernels' folder: {error}"))?;
    // SAFETY: nothing else runs yet: no thread has been started.
    unsafe { std::env::set_var("TMPDIR", dir) };
    std::env::set_current_dir(notebooks()).map_err(|error| error.to_string())?;
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let (context, outputs) = evcxr::EvalContext::with_subprocess_command(Command::new(exe))
        .map_err(|error| error.to_string())?;
    // What the cell prints must be read: the engine waits for it.
    for lines in [outputs.stdout, outputs.stderr] {
        std::thread::spawn(move || {
            while let Ok(line) = lines.recv() {
                println!("    | {line}");
            }
        });
    }
    let mut context = evcxr::CommandContext::with_eval_context(context);
    for setup in [":load_config --quiet", ":timing"] {
        context
            .execute(setup)
            .map_err(|error| format!("{setup}: {error}"))?;
    }
    let started = Instant::now();
    let output = context.execute(&cell).map_err(|error| error.to_string())?;
    println!("  cell: {:.1} s", started.elapsed().as_secs_f64());
    for phase in &output.phases {
        println!("    {}: {} ms", phase.name, phase.duration.as_millis());
    }
    Ok(())
}
