//! The state file, `LAB_HOME/lab.json`: what `lab up` started, and where.
//!
//! Every other tool (notebooks, `lab env`, `lab seed`, `lab status`) finds the
//! running lab through this file instead of guessing ports.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::services::process;

/// One service of a running lab.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// How clients connect.
    pub url: String,
    /// The process id, when the lab started it; `None` for a server given by URL.
    pub pid: Option<u32>,
    /// The program's file name, to recognise the process behind `pid`.
    pub program: String,
    /// The port on 127.0.0.1, when the lab started it.
    pub port: Option<u16>,
    /// Its log file, when the lab started it.
    pub log: Option<PathBuf>,
}

impl std::fmt::Debug for ServiceRecord {
    /// The URL with its password hidden: a failing test's message or a
    /// log line must not carry it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRecord")
            .field("url", &crate::services::redact(&self.url))
            .field("pid", &self.pid)
            .field("program", &self.program)
            .field("port", &self.port)
            .field("log", &self.log)
            .finish()
    }
}

impl ServiceRecord {
    /// Whether the lab started this service (and so stops it).
    pub fn is_managed(&self) -> bool {
        self.pid.is_some()
    }

    /// Whether its process still runs; a server given by URL counts as running.
    /// (For a cluster the lab started, see [`LabState::redis_is_alive`].)
    pub fn is_alive(&self) -> bool {
        match self.pid {
            Some(pid) => process::is_running(pid, &self.program),
            None => true,
        }
    }
}

/// What `lab up` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// The Redis server; for a cluster the lab started, its first node, with
    /// the `redis-cluster://` URL naming every node.
    pub redis: ServiceRecord,
    /// The other nodes of a Redis Cluster the lab started (`lab up
    /// --redis-cluster`); empty for one server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redis_nodes: Vec<ServiceRecord>,
    /// The MongoDB server.
    pub mongodb: ServiceRecord,
    /// The database with the billing collections.
    pub database: String,
    /// Jupyter Lab, serving the notebooks, when `lab up` started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebooks: Option<ServiceRecord>,
    /// The billing API, when `lab up` started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ServiceRecord>,
    /// The job worker, when `lab up` started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<ServiceRecord>,
}

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {reason}; `lab down` then `lab up` rebuilds it")]
pub struct StateError {
    action: &'static str,
    path: String,
    reason: String,
}

impl LabState {
    /// The recorded state, or `None` when the lab was never started or was stopped.
    pub fn load(config: &Config) -> Result<Option<LabState>, StateError> {
        let path = config.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(state_error("read", &path, error)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| state_error("understand", &path, error))
    }

    /// Writes the state, atomically (readers see the old file or the new
    /// one) and readable by its owner only.
    pub fn save(&self, config: &Config) -> Result<(), StateError> {
        let path = config.state_file();
        let text = serde_json::to_string_pretty(self).expect("the state is plain data");
        // Its URLs carry the servers' passwords: only the owner may read it.
        crate::services::secret::write_private(&path, text.as_bytes())
            .map_err(|error| state_error("write", &path, error))
    }

    /// Marks the lab as stopped: the state file moves to `last.json`, where
    /// the next `lab up` finds the ports to reuse.
    pub fn retire(config: &Config) -> Result<(), StateError> {
        let path = config.state_file();
        match std::fs::rename(&path, last_file(config)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(state_error("move", &path, error))
            }
            _ => Ok(()),
        }
    }

    /// The state of the last lab that was brought down, if any.
    pub fn load_last(config: &Config) -> Option<LabState> {
        let text = std::fs::read_to_string(last_file(config)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Whether `url` is one of the servers this lab started itself, now or
    /// before its last `lab down`. After `eval "$(cargo lab env)"` the lab's
    /// own URLs are in `REDIS_URL` and `MONGODB_URI`; they must not be taken
    /// for servers of the user's.
    pub fn owns_url(config: &Config, url: &str) -> bool {
        let current = LabState::load(config).ok().flatten();
        [current, LabState::load_last(config)]
            .into_iter()
            .flatten()
            .any(|state| {
                state
                    .services()
                    .iter()
                    .any(|(_, record)| record.is_managed() && record.url == url)
            })
    }

    /// The servers, named: Redis (and the other nodes of a cluster) and
    /// MongoDB.
    pub fn servers(&self) -> Vec<(&'static str, &ServiceRecord)> {
        let mut servers = vec![("Redis", &self.redis)];
        servers.extend(self.redis_nodes.iter().map(|node| ("Redis node", node)));
        servers.push(("MongoDB", &self.mongodb));
        servers
    }

    /// Every recorded service, named: Redis (and the other nodes of a
    /// cluster), MongoDB, and Jupyter Lab, the API and the worker when they
    /// were started.
    pub fn services(&self) -> Vec<(&'static str, &ServiceRecord)> {
        let mut services = self.servers();
        if let Some(notebooks) = &self.notebooks {
            services.push(("Jupyter", notebooks));
        }
        if let Some(api) = &self.api {
            services.push(("API", api));
        }
        if let Some(worker) = &self.worker {
            services.push(("Worker", worker));
        }
        services
    }

    /// Whether the lab's Redis runs: the server, or any node of its cluster.
    /// A cluster that lost a node may still serve every slot (a replica took
    /// over), and one whose nodes partly run must not be replaced by a new
    /// one while they hold its ports; `lab status` shows each node.
    pub fn redis_is_alive(&self) -> bool {
        self.redis.is_alive() || self.redis_nodes.iter().any(ServiceRecord::is_alive)
    }

    /// Whether the lab's Redis is a cluster.
    pub fn redis_is_cluster(&self) -> bool {
        self.redis
            .url
            .starts_with(crate::services::redis_connection::CLUSTER_SCHEME)
    }

    /// The lines of `lab env`: variables any tool can connect with.
    pub fn env_lines(&self) -> Vec<String> {
        vec![
            format!("REDIS_URL={}", self.redis.url),
            format!("MONGODB_URI={}", self.mongodb.url),
            format!("MONGODB_DB={}", self.database),
        ]
    }
}

fn last_file(config: &Config) -> PathBuf {
    config.home.join("last.json")
}

fn state_error(action: &'static str, path: &Path, reason: impl std::fmt::Display) -> StateError {
    StateError {
        action,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}
