//! The notebook side of `lab up`: the lab's Jupyter, a warm build cache for
//! the Rust kernel, and a Jupyter Lab server on `notebooks/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::LabError;
use super::helpers::{self, Helper, HelperPlan};
use super::state::ServiceRecord;
use crate::grading::pristine::fingerprint;
use crate::lessons::{self, Jupyter, Notebook, check::CELL_TIMEOUT};
use lab::config::Config;
use lab::services::secret::random_token;
use lab::services::tools::EVCXR_VERSION;

/// The port Jupyter Lab prefers, when it is free.
const PREFERRED_PORT: u16 = 8888;

/// Makes sure the lab's Jupyter is installed and the kernel's build cache
/// holds the support crate's dependencies, so that a fresh kernel reaches
/// its first result in seconds instead of minutes.
///
/// The cache is warmed by running the `:dep` lines of the lessons' first
/// cells in headless kernels, one per distinct set. It is done once per
/// dependency set: a marker in `LAB_HOME` records the `Cargo.lock`, kernel
/// version and kernel settings it was made for.
pub fn prepare(config: &Config, say: &dyn Fn(&str)) -> Result<Jupyter, LabError> {
    let jupyter = Jupyter::ensure(config, say)?;
    let marker = config.home.join("kernel-cache.txt");
    let wanted = cache_fingerprint(config);
    if std::fs::read_to_string(&marker).is_ok_and(|made| made == wanted) {
        // Entries that later kernels added are made valid again.
        lessons::kernel_cache::repair_configured(config);
        return Ok(jupyter);
    }
    say("preparing the Rust kernel's build cache (about 3 minutes the first time, once)");
    let workspace = config.home.join("kernel-warmup");
    for (index, notebook) in write_warmup_notebooks(config, &workspace)?
        .iter()
        .enumerate()
    {
        let executed = workspace.join(format!("executed-{index}.ipynb"));
        jupyter.execute(notebook, &executed, CELL_TIMEOUT, &[])?;
        let run = Notebook::load(&executed)?;
        if let Some(error) = run
            .code_cells()
            .iter()
            .find_map(|cell| cell.stored.error.clone())
        {
            return Err(LabError::KernelWarmup { error });
        }
    }
    lessons::kernel_cache::repair_configured(config);
    std::fs::write(&marker, wanted).map_err(|source| LabError::Io {
        context: format!("cannot write {}", marker.display()),
        source,
    })?;
    Ok(jupyter)
}

/// Starts Jupyter Lab on `notebooks/` unless the recorded one still runs,
/// and records it in the state file. Returns its record; the URL carries the
/// login token.
pub async fn open(
    config: &Config,
    jupyter: &Jupyter,
    say: &dyn Fn(&str),
) -> Result<ServiceRecord, LabError> {
    let token = random_token().map_err(|source| LabError::Io {
        context: "cannot read /dev/urandom for Jupyter's token".into(),
        source,
    })?;
    let notebooks = lessons::notebooks_dir(config);
    let lab_arguments = {
        let jupyter = jupyter.clone();
        move |port: u16| -> Vec<OsString> {
            jupyter
                .lab_arguments(&notebooks, port)
                .into_iter()
                .map(OsString::from)
                .collect()
        }
    };
    let plan = HelperPlan {
        helper: Helper::Notebooks,
        service: "Jupyter Lab",
        program: jupyter.program("jupyter"),
        preferred_port: PREFERRED_PORT,
        dir: config.service_dir("jupyter-lab"),
        log_name: "jupyter-lab.log",
        startup_timeout: Duration::from_secs(60),
        arguments: Box::new(lab_arguments),
        url: {
            let token = token.clone();
            Box::new(move |port| format!("http://127.0.0.1:{port}/lab?token={token}"))
        },
        // Jupyter reads its token from JUPYTER_TOKEN: on the command line it
        // would be visible to every user of the machine in `ps`.
        env: [("JUPYTER_TOKEN".to_owned(), token)]
            .into_iter()
            .chain(jupyter.kernel_env())
            .collect(),
    };
    helpers::start(config, plan, say).await
}

/// What the build cache depends on: the locked dependency versions, the
/// kernel version and the kernel settings of `notebooks/`.
fn cache_fingerprint(config: &Config) -> String {
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    let lock = read(config.repository().join("Cargo.lock"));
    let settings = read(lessons::notebooks_dir(config).join("evcxr.toml"));
    format!(
        "evcxr {EVCXR_VERSION}\nCargo.lock {}\nevcxr.toml {}\n",
        fingerprint(lock.as_bytes()),
        fingerprint(settings.as_bytes())
    )
}

/// One notebook per distinct set of `:dep` lines among the lessons' first
/// cells (the Redis and MongoDB lessons load the support crate alone, the
/// web lessons add its `api` feature), each holding just those lines with
/// the support crate's path made absolute, and one statement that makes the
/// kernel build and link them; beside a copy of the kernel settings.
fn write_warmup_notebooks(config: &Config, workspace: &Path) -> Result<Vec<PathBuf>, LabError> {
    let io = |context: String| move |source| LabError::Io { context, source };
    std::fs::create_dir_all(workspace)
        .map_err(io(format!("cannot create {}", workspace.display())))?;
    let notebooks = lessons::notebooks_dir(config);
    let repository = config.repository().display().to_string();
    let mut headers: Vec<String> = Vec::new();
    for path in lessons::select(config, None)? {
        let first = Notebook::load(&path)?
            .code_cells()
            .into_iter()
            .next()
            .map(|cell| cell.source)
            .unwrap_or_default();
        let header: Vec<&str> = first
            .lines()
            .filter(|line| line.trim_start().starts_with(":dep"))
            .collect();
        if header.is_empty() {
            continue;
        }
        let header = format!("{}\nlet _ = lab::billing::Money::ZERO;", header.join("\n"))
            .replace("path = \"..\"", &format!("path = {repository:?}"));
        if !headers.contains(&header) {
            headers.push(header);
        }
    }
    let settings = workspace.join("evcxr.toml");
    std::fs::copy(notebooks.join("evcxr.toml"), &settings)
        .map_err(io(format!("cannot write {}", settings.display())))?;
    let mut written = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let document = serde_json::json!({
            "cells": [{"cell_type": "code", "id": "warmup", "metadata": {},
                       "source": header, "outputs": [], "execution_count": null}],
            "metadata": {"kernelspec": {"name": lessons::jupyter::KERNEL_NAME,
                                        "display_name": "Rust", "language": "rust"}},
            "nbformat": 4, "nbformat_minor": 5,
        });
        let path = workspace.join(format!("warmup-{index}.ipynb"));
        std::fs::write(&path, document.to_string())
            .map_err(io(format!("cannot write {}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_config(name: &str) -> Config {
        let home = std::env::temp_dir().join(format!("lab-{name}-{}", std::process::id()));
        Config::for_home(home, Vec::new())
    }

    #[test]
    fn the_warmup_loads_each_distinct_dep_set_with_an_absolute_path() {
        let config = scratch_config("warmup");
        let workspace = config.home.join("kernel-warmup");
        let paths = write_warmup_notebooks(&config, &workspace).unwrap();
        assert!(
            paths.len() >= 2,
            "at least the support crate alone, and with its api feature"
        );
        let repository = config.repository().display().to_string();
        let sources: Vec<String> = paths
            .iter()
            .map(|path| {
                let cells = Notebook::load(path).unwrap().code_cells();
                assert_eq!(cells.len(), 1);
                cells[0].source.clone()
            })
            .collect();
        for source in &sources {
            assert!(
                source.contains(&format!(":dep lab = {{ path = {repository:?}")),
                "{source}"
            );
            assert!(source.ends_with("let _ = lab::billing::Money::ZERO;"));
            assert!(!source.contains("Lab::connect()"), "no running lab needed");
        }
        let with_api = |source: &&String| source.contains("features = [\"api\"]");
        assert!(sources.iter().any(|source| with_api(&source)));
        assert!(sources.iter().any(|source| !with_api(&source)));
        let mut distinct = sources.clone();
        distinct.dedup();
        assert_eq!(distinct, sources, "each set is warmed once");
        assert!(
            workspace.join("evcxr.toml").is_file(),
            "the kernel settings come along"
        );
        std::fs::remove_dir_all(&config.home).unwrap();
    }

    #[test]
    fn the_cache_fingerprint_follows_the_lock_file_and_kernel_settings() {
        let config = scratch_config("fingerprint");
        let fingerprint = cache_fingerprint(&config);
        assert!(fingerprint.starts_with(&format!("evcxr {EVCXR_VERSION}\n")));
        assert!(fingerprint.contains("Cargo.lock ") && fingerprint.contains("evcxr.toml "));
        assert_eq!(fingerprint, cache_fingerprint(&config), "stable");
    }
}
