//! `lab status`: which recorded services run and answer.

use crate::control::error::LabError;
use crate::control::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::services::{Origin, connect_mongodb, connect_redis_target, process};

/// What the check of one service found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It answers requests right now.
    Running,
    /// Its process runs (or it is not the lab's to watch) but it does not
    /// answer.
    NotAnswering,
    /// The process the lab started has ended; whatever answers on its port
    /// now is not it.
    Exited,
}

impl Health {
    /// The health of a service whose process runs (`alive`) and which
    /// answers (`answers`, only asked when it runs).
    pub fn of(alive: bool, answers: bool) -> Self {
        match (alive, answers) {
            (false, _) => Health::Exited,
            (true, true) => Health::Running,
            (true, false) => Health::NotAnswering,
        }
    }
}

/// How one service is doing.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// "Redis" or "MongoDB".
    pub name: &'static str,
    /// Its URL.
    pub url: String,
    /// Its pid, when the lab started it.
    pub pid: Option<u32>,
    /// What the check found.
    pub health: Health,
}

impl std::fmt::Debug for ServiceStatus {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceStatus")
            .field("name", &self.name)
            .field("url", &lab::services::redact(&self.url))
            .field("pid", &self.pid)
            .field("health", &self.health)
            .finish()
    }
}

/// The status of each recorded service, or `None` when the lab is not up.
pub async fn status(config: &Config) -> Result<Option<Vec<ServiceStatus>>, LabError> {
    let Some(state) = LabState::load(config)? else {
        return Ok(None);
    };
    // A cluster answers as long as its slots are served, whichever nodes run.
    let redis_alive = state.redis_is_alive();
    let redis_ok = redis_alive
        && connect_redis_target(&state.redis.url, Origin::Lab)
            .await
            .is_ok();
    let mongo_alive = state.mongodb.is_alive();
    let mongo_ok = mongo_alive
        && connect_mongodb(&state.mongodb.url, Origin::Lab)
            .await
            .is_ok();
    let row = |name, record: &ServiceRecord, health| ServiceStatus {
        name,
        url: record.url.clone(),
        pid: record.pid,
        health,
    };
    let mut rows = vec![
        row("Redis", &state.redis, Health::of(redis_alive, redis_ok)),
        row("MongoDB", &state.mongodb, Health::of(mongo_alive, mongo_ok)),
    ];
    // The first node is recorded as the cluster itself; it gets a row too.
    let first_node = state
        .redis_is_cluster()
        .then(|| ServiceRecord {
            url: format!(
                "redis://127.0.0.1:{}/",
                state.redis.port.unwrap_or_default()
            ),
            ..state.redis.clone()
        })
        .filter(|first| first.is_managed());
    for node in first_node.iter().chain(&state.redis_nodes) {
        rows.push(row("Redis node", node, health_of(node).await));
    }
    for (name, helper) in [
        ("Jupyter", &state.notebooks),
        ("API", &state.api),
        ("Worker", &state.worker),
    ] {
        if let Some(record) = helper {
            rows.push(row(name, record, health_of(record).await));
        }
    }
    Ok(Some(rows))
}

/// The health of a recorded process: whether it runs, and if so whether
/// it accepts connections on its port (one without a port cannot be asked,
/// and counts as not answering).
async fn health_of(record: &ServiceRecord) -> Health {
    let alive = record.is_alive();
    let answers = match record.port {
        Some(port) => alive && process::port_accepts(port).await,
        None => false,
    };
    Health::of(alive, answers)
}
