//! Running the course's notebooks with the evcxr engine, for `cargo test`.
//!
//! Each notebook gets a fresh engine (as a fresh Jupyter kernel would be) and
//! a fresh test environment: its own Redis server and its own MongoDB
//! database holding the standard data set. The engine's child process finds
//! them through `REDIS_URL`, `MONGODB_URI` and `MONGODB_DB`, exactly as a
//! kernel started by `lab notebooks check` does. The judgement itself
//! ([`lab_command::lessons::CellRun::problem`]) is shared with that check.
//!
//! Each engine runs in a process of its own, the test binary started again
//! with [`ONE_NOTEBOOK`] naming the notebook ([`run_one`]), as Jupyter starts
//! a kernel per notebook. evcxr takes its build folder from the process's
//! environment, so this is what lets each engine build in a lasting folder
//! of its own
//! ([`EngineFolder`](lab_command::lessons::kernel_slots::EngineFolder))
//! and find the dependencies compiled there by the engine before it,
//! instead of in a fresh temporary folder.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lab::Config;
use lab_command::lessons::{self, CellOutput, CellRun, Notebook, NotebookRun, suite};

/// The environment variable that makes the test binary run the engine of
/// the one notebook it names and print that notebook's report.
pub const ONE_NOTEBOOK: &str = "LAB_NOTEBOOK_ENGINE";

/// Any failure to set the check up or to run a notebook at all; failures
/// of cells are reported in the run, not returned.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the notebooks whose names start with one of `filters` (all of them
/// when there are none), several at once (`LAB_NOTEBOOK_JOBS`), prints a
/// report for each in the notebooks' order, and says whether all passed.
pub fn run_all(filters: &[String]) -> Result<bool, SetupError> {
    let config = Config::from_env()?;
    let paths = if filters.is_empty() {
        lessons::select(&config, None)?
    } else {
        let mut chosen = Vec::new();
        for filter in filters {
            chosen.extend(lessons::select(&config, Some(filter))?);
        }
        chosen
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let jobs = suite::parallelism(&config);
    let mut all_passed = true;
    println!(
        "running {} with evcxr",
        suite::describe_set(paths.len(), jobs)
    );
    runtime.block_on(suite::in_order(
        paths,
        jobs,
        |path| async move {
            match run_fresh(&path).await {
                Ok(verdict) => verdict,
                Err(error) => suite::verdict(&path, &Err::<NotebookRun, _>(error)),
            }
        },
        |(report, passed)| {
            println!("{report}");
            all_passed &= passed;
        },
    ));
    println!(
        "\nnotebook result: {}",
        if all_passed { "ok" } else { "FAILED" }
    );
    Ok(all_passed)
}

/// Runs one notebook's engine in a process of its own (this binary again,
/// with [`ONE_NOTEBOOK`]) against a fresh environment, and gives back its
/// report and whether it passed.
async fn run_fresh(path: &Path) -> Result<(String, bool), SetupError> {
    let program = std::env::current_exe()?;
    let environment = suite::fresh_environment().await?;
    let mut child = tokio::process::Command::new(program);
    child
        .env(ONE_NOTEBOOK, path)
        .envs(environment.variables())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = child.output().await;
    environment.close().await;
    let output = output?;
    let report = String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_owned();
    match output.status.code() {
        Some(0) => Ok((report, true)),
        Some(1) if !report.is_empty() => Ok((report, false)),
        _ => Err(format!(
            "its engine's process ended with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )
        .into()),
    }
}

/// The test binary's work when started with [`ONE_NOTEBOOK`] naming
/// `path`: runs that notebook in a fresh engine against the environment
/// the variables describe, prints its report, and says whether it passed.
/// The engine builds in `EVCXR_TMPDIR` when the caller has set it (to an
/// [`EngineFolder`](lab_command::lessons::kernel_slots::EngineFolder) it
/// holds), else in a temporary folder.
pub fn run_one(path: &Path) -> Result<bool, SetupError> {
    let config = Config::from_env()?;
    let path = std::fs::canonicalize(path)?;
    // The kernel of Jupyter Lab starts in the notebook's folder; so does this
    // engine, so `:dep lab = { path = ".." }` and `evcxr.toml` mean the same.
    std::env::set_current_dir(lessons::notebooks_dir(&config))?;
    let run = run_notebook(&config, &path);
    let (report, passed) = suite::verdict(&path, &run);
    println!("{report}");
    Ok(passed)
}

/// Runs one notebook's code cells in order in a fresh engine, which builds
/// against its own copy of the build cache ([`suite::kernel_cache_copy`]).
/// The engine's child process inherits this process's environment, where
/// the test environment's variables are.
pub fn run_notebook(config: &Config, path: &Path) -> Result<NotebookRun, SetupError> {
    let notebook = Notebook::load(path)?;
    let cache = suite::kernel_cache_copy(config)?;
    let mut child = Command::new(std::env::current_exe()?);
    // The engine's child is this binary too; it must not take itself for
    // a notebook's engine process (`runtime_hook` returns first anyway).
    child.env_remove(ONE_NOTEBOOK);
    let (context, outputs) = evcxr::EvalContext::with_subprocess_command(child)?;
    let mut context = evcxr::CommandContext::with_eval_context(context);
    let stdout_lines = Collector::start(outputs.stdout);
    let stderr_lines = Collector::start(outputs.stderr);
    // What the Jupyter kernel does before the first cell: apply the
    // folder's `evcxr.toml` (optimisation level, the build cache).
    context.execute(":load_config --quiet")?;
    // The engine's builds (and its compiler wrapper, which reads and writes
    // the cache) find the copy as their cache folder.
    if let Some(cache) = &cache {
        context.execute(&format!(
            ":build_env XDG_CACHE_HOME={}",
            cache.home().display()
        ))?;
    }
    let mut cells = Vec::new();
    for cell in notebook.code_cells() {
        let started = Instant::now();
        let result = context.execute(&cell.source);
        let seconds = started.elapsed().as_secs_f64();
        let stdout = stdout_lines.take();
        let stderr = stderr_lines.take();
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
                // An `Err` returned with `?` does not fail the cell in
                // evcxr: it is printed on stderr, as in the Jupyter kernel.
                error: (!stderr.trim().is_empty())
                    .then(|| format!("it wrote to standard error: {}", stderr.trim_end())),
            },
            Err(error) => CellOutput {
                stdout,
                error: Some(
                    format!("{}\n{stderr}", describe(&error))
                        .trim_end()
                        .to_owned(),
                ),
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

/// Gathers the lines a channel delivers, on a thread of its own.
///
/// The engine does not finish a cell until its standard output channel has
/// been emptied, so it must be read while the cell runs. A line leaves the
/// channel only while the collector holds the buffer's lock, so once the
/// engine reports a cell done, taking the buffer gets every line of it.
struct Collector {
    buffer: Arc<Mutex<String>>,
}

impl Collector {
    fn start(lines: crossbeam_channel::Receiver<String>) -> Collector {
        let buffer = Arc::new(Mutex::new(String::new()));
        let shared = Arc::clone(&buffer);
        std::thread::spawn(move || {
            loop {
                let mut text = shared.lock().unwrap_or_else(PoisonError::into_inner);
                match lines.recv_timeout(Duration::from_millis(5)) {
                    Ok(line) => {
                        text.push_str(&line);
                        text.push('\n');
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        drop(text);
                        std::thread::yield_now();
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        Collector { buffer }
    }

    /// Everything gathered since the last call.
    fn take(&self) -> String {
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(PoisonError::into_inner))
    }
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
