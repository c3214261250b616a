//! The `lab worker` processes a run starts, and their stop.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::bench::io;
use crate::control::LabError;
use lab::services::process;

/// How long a worker process started for the benchmark may take to answer
/// on its status port.
const WORKER_START: Duration = Duration::from_secs(30);

/// `count` `lab worker` processes of `concurrency` slots each on the
/// scratch servers, answered on their status ports before this returns.
pub(super) struct Workers(Vec<Child>);

impl Workers {
    pub(super) async fn start(
        lab: &Path,
        count: usize,
        concurrency: usize,
        environment: &[(&str, String)],
    ) -> Result<Workers, LabError> {
        let mut children = Vec::new();
        for _ in 0..count {
            let port = process::free_port().map_err(io("finding a free port"))?;
            let child = Command::new(lab)
                .arg("worker")
                .arg("--concurrency")
                .arg(concurrency.to_string())
                .arg("--status-port")
                .arg(port.to_string())
                .envs(environment.iter().map(|(name, value)| (*name, value)))
                .env("LAB_JOB_DRILLS", "1")
                .env("LAB_LOG", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(io("starting a lab worker"))?;
            children.push(child);
            let started = Instant::now();
            while !process::port_accepts(port).await {
                if started.elapsed() > WORKER_START {
                    return Err(LabError::NoAnswer {
                        what: "a lab worker started for the benchmark",
                        seconds: WORKER_START.as_secs(),
                        hint: format!(
                            "nothing listens on its status port {port}; run `cargo lab worker` to see why it does not start"
                        ),
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(Workers(children))
    }

    /// SIGTERM, as `lab down` sends, then wait.
    pub(super) async fn stop(mut self) {
        for child in &mut self.0 {
            if let Some(pid) = child.id() {
                process::ask_to_stop(pid);
            }
        }
        for child in &mut self.0 {
            let _ = child.wait().await;
        }
    }
}
