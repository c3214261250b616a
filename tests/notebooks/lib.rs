//! Running the course's notebooks with the evcxr engine, for `cargo test`.
//!
//! Each notebook gets a fresh engine (as a fresh Jupyter kernel would be) and
//! a fresh test environment: its own Redis server and its own MongoDB
//! database holding the standard data set. The engine's child process finds
//! them through `REDIS_URL`, `MONGODB_URI` and `MONGODB_DB`, exactly as a
//! kernel started by `lab notebooks check` does. The judgement itself
//! ([`lab::lessons::CellRun::problem`]) is shared with that check.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use lab::Config;
use lab::dataset::SeedSpec;
use lab::lessons::{self, CellOutput, CellRun, Notebook, NotebookRun};
use lab::testing::TestEnv;

/// Any failure to set the check up; failures of notebooks are reported, not returned.
pub type SetupError = Box<dyn std::error::Error>;

/// Runs the notebooks whose names start with one of `filters` (all of them
/// when there are none), prints a report, and says whether all passed.
pub fn run_all(filters: &[String]) -> Result<bool, SetupError> {
    let config = Config::from_env()?;
    let directory = lessons::notebooks_dir(&config);
    let paths: Vec<_> = lessons::ipynb::discover(&directory)?
        .into_iter()
        .filter(|path| {
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            filters.is_empty() || filters.iter().any(|filter| name.starts_with(filter.as_str()))
        })
        .collect();
    // The kernel of Jupyter Lab starts in the notebook's folder; so does this
    // engine, so `:dep lab = { path = ".." }` and `evcxr.toml` mean the same.
    std::env::set_current_dir(&directory)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut all_passed = true;
    println!("running {} notebooks with evcxr", paths.len());
    for path in &paths {
        let environment = runtime.block_on(TestEnv::try_start_with(Some(SeedSpec::standard())))?;
        let run = run_notebook(path, &environment)?;
        let problems = run.problems();
        report(&run, &problems);
        all_passed &= problems.is_empty();
    }
    println!(
        "\nnotebook result: {}",
        if all_passed { "ok" } else { "FAILED" }
    );
    Ok(all_passed)
}

/// Runs one notebook's code cells in order in a fresh engine.
pub fn run_notebook(path: &Path, environment: &TestEnv) -> Result<NotebookRun, SetupError> {
    let notebook = Notebook::load(path)?;
    let mut child = Command::new(std::env::current_exe()?);
    for (name, value) in environment.variables() {
        child.env(name, value);
    }
    let (context, outputs) = evcxr::EvalContext::with_subprocess_command(child)?;
    let mut context = evcxr::CommandContext::with_eval_context(context);
    let mut cells = Vec::new();
    for cell in notebook.code_cells() {
        let started = Instant::now();
        let result = context.execute(&cell.source);
        let seconds = started.elapsed().as_secs_f64();
        // The engine forwards every line the cell printed before it reports
        // the cell done, so the channels hold all of this cell's output now.
        let stdout: String = outputs.stdout.try_iter().map(|line| line + "\n").collect();
        let stderr: String = outputs.stderr.try_iter().map(|line| line + "\n").collect();
        let fresh = match result {
            Ok(output) => CellOutput {
                stdout,
                value: output.get("text/plain").map(str::to_owned),
                displays: output
                    .content_by_mime_type
                    .keys()
                    .filter(|mime| !matches!(mime.as_str(), "text/plain" | "text/html"))
                    .cloned()
                    .collect(),
                error: None,
            },
            Err(error) => CellOutput {
                stdout,
                error: Some(format!("{}\n{stderr}", describe(&error)).trim_end().to_owned()),
                ..CellOutput::default()
            },
        };
        let failed = fresh.error.is_some();
        cells.push(CellRun {
            cell,
            fresh,
            seconds: Some(seconds),
        });
        if failed {
            // Later cells depend on this one; their errors would only repeat it.
            break;
        }
    }
    Ok(NotebookRun {
        name: notebook.name(),
        cells,
    })
}

/// The full text of an engine error: compile errors as rustc renders them
/// (with the offending line), anything else as it displays.
fn describe(error: &evcxr::Error) -> String {
    match error {
        evcxr::Error::CompilationErrors(errors) => errors
            .iter()
            .map(|error| error.rendered())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn report(run: &NotebookRun, problems: &[String]) {
    let seconds = |value: Option<f64>| value.map_or("-".to_owned(), |s| format!("{s:.1} s"));
    println!(
        "notebook {} ... {} ({} cells; first cell {}, median cell {})",
        run.name,
        if problems.is_empty() { "ok" } else { "FAILED" },
        run.cells.len(),
        seconds(run.first_cell_seconds()),
        seconds(run.median_cell_seconds()),
    );
    for problem in problems {
        println!("    {}", problem.replace('\n', "\n    "));
    }
}
