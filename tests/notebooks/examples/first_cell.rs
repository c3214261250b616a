//! Measures a fresh kernel's first cell: `cargo run -p notebook-tests
//! --example first_cell -- <cell file>...` runs each file's text as the first
//! cell of a fresh evcxr engine started in `notebooks/` (so its `evcxr.toml`
//! and build cache apply) and prints how long the cell took and the engine's
//! own phase timings. Run it twice: the first run may fill the cache.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    evcxr::runtime_hook();
    match lab_command::lessons::kernel_cache::kernel_tmpdir() {
        // SAFETY: nothing else runs yet: no thread has been started.
        Ok(dir) => unsafe { std::env::set_var("TMPDIR", dir) },
        Err(error) => {
            eprintln!("cannot prepare the kernels' folder: {error}");
            return ExitCode::FAILURE;
        }
    }
    let notebooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../notebooks");
    for file in std::env::args().skip(1) {
        let cell = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{file}: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = std::env::set_current_dir(&notebooks) {
            eprintln!("{}: {error}", notebooks.display());
            return ExitCode::FAILURE;
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        };
        let (context, _outputs) =
            match evcxr::EvalContext::with_subprocess_command(Command::new(exe)) {
                Ok(started) => started,
                Err(error) => {
                    eprintln!("{error}");
                    return ExitCode::FAILURE;
                }
            };
        let mut context = evcxr::CommandContext::with_eval_context(context);
        for setup in [":load_config --quiet", ":timing"] {
            if let Err(error) = context.execute(setup) {
                eprintln!("{setup}: {error}");
                return ExitCode::FAILURE;
            }
        }
        let started = Instant::now();
        let result = context.execute(&cell);
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(output) => {
                println!("{file}: {seconds:.1} s");
                for phase in &output.phases {
                    println!("  {}: {} ms", phase.name, phase.duration.as_millis());
                }
            }
            Err(error) => println!("{file}: failed after {seconds:.1} s: {error}"),
        }
    }
    ExitCode::SUCCESS
}
