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

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use lab::config::Config;
use lab_command::lessons::{self, Notebook, kernel_cache, kernel_slots};
use notebook_tests::SetupError;

/// Set in a child process: the cell file it runs.
const CHILD: &str = "LAB_FIRST_CELL_FILE";

fn main() -> ExitCode {
    evcxr::runtime_hook();
    let outcome = match std::env::var_os(CHILD) {
        Some(file) => run_one(Path::new(&file)),
        None => compare(&std::env::args().skip(1).collect::<Vec<_>>()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("first_cell: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Times the first cells of the notebooks `prefixes` name, in a temporary
/// build folder and in a lasting one.
fn compare(prefixes: &[String]) -> Result<(), SetupError> {
    if prefixes.is_empty() {
        return Err("name the notebooks to measure, for example: -- 01 04".into());
    }
    let config = Config::from_env()?;
    let notebooks = lessons::notebooks_dir(&config);
    let lasting = kernel_slots::slots_dir()?.join("first-cell-bench");
    let scratch = kernel_cache::kernel_tmpdir()?;
    for prefix in prefixes {
        for path in lessons::select(&config, Some(prefix))? {
            let notebook = Notebook::load(&path)?;
            let name = notebook.name();
            let cell = notebook
                .code_cells()
                .into_iter()
                .next()
                .ok_or_else(|| format!("{name} has no code cell"))?;
            let file = scratch.join(format!("first-cell-{name}.rs"));
            std::fs::write(&file, &cell.source)?;
            println!("{name}, temporary build folder:");
            let temporary = run_child(&notebooks, &file, None)?;
            println!("{name}, lasting build folder (filling it, not counted):");
            run_child(&notebooks, &file, Some(&lasting))?;
            println!("{name}, lasting build folder:");
            let warm = run_child(&notebooks, &file, Some(&lasting))?;
            println!(
                "{name}: first cell {temporary:.1} s in a temporary build folder, {warm:.1} s in a lasting one"
            );
        }
    }
    Ok(())
}

/// Runs `file` as the first cell of a fresh engine in a child process
/// started in `notebooks` (as Jupyter starts a kernel in the notebook's
/// folder, so its `evcxr.toml` and relative `:dep` path apply), building in
/// `folder` (a temporary folder when `None`); the seconds the child measured.
fn run_child(notebooks: &Path, file: &Path, folder: Option<&Path>) -> Result<f64, SetupError> {
    let mut child = Command::new(std::env::current_exe()?);
    child.current_dir(notebooks).env(CHILD, file);
    match folder {
        Some(folder) => child.env("EVCXR_TMPDIR", folder),
        None => child.env_remove("EVCXR_TMPDIR"),
    };
    let output = child.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!(
            "the cell failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )
        .into());
    }
    let seconds = stdout.lines().find_map(|line| {
        line.strip_prefix("  cell: ")?
            .strip_suffix(" s")?
            .parse()
            .ok()
    });
    Ok(seconds.ok_or("the child printed no time")?)
}

/// In a child: runs `file`'s text as the first cell of a fresh engine,
/// printing how long it took and the engine's phases.
fn run_one(file: &Path) -> Result<(), SetupError> {
    let cell = std::fs::read_to_string(file)?;
    let dir = kernel_cache::kernel_tmpdir()?;
    // SAFETY: nothing else runs yet: no thread has been started.
    unsafe { std::env::set_var("TMPDIR", dir) };
    let (context, outputs) =
        evcxr::EvalContext::with_subprocess_command(Command::new(std::env::current_exe()?))?;
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
        context.execute(setup)?;
    }
    let started = Instant::now();
    let output = context.execute(&cell)?;
    println!("  cell: {:.1} s", started.elapsed().as_secs_f64());
    for phase in &output.phases {
        println!("    {}: {} ms", phase.name, phase.duration.as_millis());
    }
    Ok(())
}
