//! A small Redis Cluster that a notebook starts for itself.
//!
//! Every other lesson uses the lab's one Redis server. The lesson on Redis
//! Cluster needs several masters to show how keys are spread between them,
//! and the lab's own Redis is one server while Jupyter runs, so that lesson
//! starts a cluster of its own, on free ports, with a random password. Its
//! nodes are tied to the kernel: they stop when the kernel restarts, shuts
//! down or crashes, and nothing is left running.
//!
//! ```no_run
//! # async fn cell() -> Result<(), Box<dyn std::error::Error>> {
//! use lab::services::{Origin, connect_redis_target};
//! let cluster = lab::notebook::small_cluster(3).await?;
//! let mut redis = connect_redis_target(&cluster.url(), Origin::Lab).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use super::NotebookError;
use crate::config::Config;
use crate::services::redis_cluster::{self, ClusterOptions, ManagedCluster};
use crate::services::secret::random_token;
use crate::services::{Tool, Toolbox, process};

/// Starts a cluster of `masters` masters without replicas, each serving an
/// equal share of the slots, and waits until every slot is served.
///
/// The `redis-server` program comes from the lab's toolbox, as for every
/// server the lab starts. Each node keeps its small files (its node table
/// and log) under `LAB_HOME/notebook-clusters/`; folders of kernels that
/// have ended are removed here.
pub async fn small_cluster(masters: usize) -> Result<ManagedCluster, NotebookError> {
    let config = Config::from_env()?;
    // A notebook's standard error counts as a failed cell, so what the
    // toolbox says while installing goes to standard output.
    let program = Toolbox::new(&config).ensure(Tool::RedisServer, &|message| {
        println!("lab: {message}");
    })?;
    let root = config.home.join("notebook-clusters");
    process::remove_dirs_of_ended(&root);
    let dir = claim_dir(&root)?;
    let mut options = ClusterOptions::new(masters, 0, dir);
    // Other users of the machine could reach a node without one.
    options.password = Some(random_token().map_err(|source| NotebookError::Io {
        context: "cannot read /dev/urandom for the cluster's password".into(),
        source,
    })?);
    Ok(redis_cluster::start(&program, &options).await?)
}

/// A new folder `p{PID}-{N}` under `root`, for this process: creating it
/// (not "create unless it exists") is what claims it, so two clusters of one
/// kernel never share one.
fn claim_dir(root: &Path) -> Result<PathBuf, NotebookError> {
    std::fs::create_dir_all(root).map_err(|source| NotebookError::Io {
        context: format!("cannot create {}", root.display()),
        source,
    })?;
    let pid = std::process::id();
    let mut number = 0u32;
    loop {
        let dir = root.join(format!("p{pid}-{number}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
            Err(source) => {
                return Err(NotebookError::Io {
                    context: format!("cannot create {}", dir.display()),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cluster_of_a_process_gets_its_own_folder_and_ended_ones_are_removed() {
        let root =
            std::env::temp_dir().join(format!("lab-notebook-clusters-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let first = claim_dir(&root).unwrap();
        let second = claim_dir(&root).unwrap();
        assert_ne!(first, second);
        // No process has the largest pid there can be.
        let ended = root.join(format!("p{}-0", i32::MAX));
        std::fs::create_dir(&ended).unwrap();
        process::remove_dirs_of_ended(&root);
        assert!(!ended.exists());
        assert!(first.exists() && second.exists(), "this process still runs");
        let _ = std::fs::remove_dir_all(root);
    }
}
