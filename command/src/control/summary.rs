//! What `lab up`, `lab status` and `lab down` show: the lines the command
//! prints, made here so the command only prints them. URLs appear with
//! their passwords hidden.

use std::fmt;

use super::lifecycle::{DownReport, Health, ServiceStatus};
use super::state::LabState;
use lab::config::Config;
use lab::services::redact;

/// "pid 1234" for a server the lab started, "external" for one given by URL.
pub fn pid_label(pid: Option<u32>) -> String {
    pid.map(|pid| format!("pid {pid}"))
        .unwrap_or_else(|| "external".to_owned())
}

/// The lines under "The lab is up.": Redis (each node of a cluster too)
/// and MongoDB with their URLs and pids, then the database and the state
/// file. The API, the worker and Jupyter are not among them: `lab up`
/// prints each of those once it is started or found running, so a line
/// here could show a process that has died and is about to be replaced.
pub fn server_lines(config: &Config, state: &LabState) -> Vec<String> {
    let mut lines: Vec<String> = state
        .servers()
        .into_iter()
        .map(|(name, record)| {
            format!(
                "  {name:<8} {}  ({})",
                redact(&record.url),
                pid_label(record.pid)
            )
        })
        .collect();
    lines.push(format!("  database {}", state.database));
    lines.push(format!("  state    {}", config.state_file().display()));
    lines
}

impl fmt::Display for ServiceStatus {
    /// One row of `lab status`: name, health, URL and pid.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.health {
            Health::Running => "running",
            Health::NotAnswering => "NOT ANSWERING",
            Health::Exited => "EXITED",
        };
        write!(
            f,
            "{:<8} {state:<14} {}  ({})",
            self.name,
            redact(&self.url),
            pid_label(self.pid)
        )
    }
}

impl DownReport {
    /// One line per service: how it was stopped, or that it was left alone.
    pub fn lines(&self) -> Vec<String> {
        let stopped = self.stopped.iter().map(|(name, killed)| {
            let how = if *killed {
                "killed after 30 s"
            } else {
                "stopped"
            };
            format!("{name} {how}.")
        });
        let left = self
            .left_alone
            .iter()
            .map(|name| format!("{name} is your own server; left running."));
        stopped.chain(left).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_row_hides_the_password_and_names_the_pid() {
        let row = ServiceStatus {
            name: "Redis",
            url: "redis://:secret@127.0.0.1:6379/".into(),
            pid: Some(42),
            health: Health::NotAnswering,
        };
        let shown = row.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.starts_with("Redis    NOT ANSWERING  redis://"),
            "{shown}"
        );
        assert!(shown.ends_with("  (pid 42)"), "{shown}");
        assert_eq!(pid_label(None), "external");
    }

    #[test]
    fn a_process_that_ended_is_shown_as_exited_not_as_silent() {
        assert_eq!(Health::of(false, false), Health::Exited);
        assert_eq!(Health::of(true, false), Health::NotAnswering);
        assert_eq!(Health::of(true, true), Health::Running);
        let row = ServiceStatus {
            name: "API",
            url: "http://127.0.0.1:8000".into(),
            pid: Some(7),
            health: Health::Exited,
        };
        let shown = row.to_string();
        assert!(
            shown.starts_with("API      EXITED         http://"),
            "{shown}"
        );
    }

    #[test]
    fn down_says_what_was_stopped_killed_and_left_alone() {
        let report = DownReport {
            stopped: vec![("Redis", false), ("MongoDB", true)],
            left_alone: vec!["API"],
        };
        assert_eq!(
            report.lines(),
            [
                "Redis stopped.",
                "MongoDB killed after 30 s.",
                "API is your own server; left running."
            ]
        );
    }
}
