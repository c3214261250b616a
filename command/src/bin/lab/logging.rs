//! Logging for the long-running commands, `lab serve` and `lab worker`.

use anyhow::Context;
use lab::Config;
use tracing_appender::non_blocking::WorkerGuard;

/// Logs as `LAB_LOG` says, to standard output or to `LAB_LOG_FILE` (rotated
/// by size), through a background thread: writing never holds up a
/// request. The guard flushes what is queued when dropped; keep it until
/// the process ends. For `lab serve` and `lab worker`.
pub(crate) fn init_logging(config: &Config) -> anyhow::Result<WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter).with_context(|| {
        format!(
            "LAB_LOG={:?} is not a log filter such as \"info\" or \"debug\"",
            config.log_filter
        )
    })?;
    let (writer, guard) = lab_command::log_file::writer(config.log_file.as_deref())?;
    // Colour codes only for a person at a terminal: `lab up` sends the log
    // to a file, where they would be noise.
    let colour = config.log_file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer)
        .init();
    Ok(guard)
}
