//! `lab status`: which recorded services run and answer.

use crate::control::error::LabError;
use crate::control::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::services::{Origin, connect_mongodb, connect_redis_target, process};

/// How one service is doing.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// "Redis" or "MongoDB".
    pub name: &'static str,
    /// Its URL.
    pub url: String,
    /// Its pid, when the lab started it.
    pub pid: Option<u32>,
    /// Whether it answers requests right now.
    pub answering: bool,
}

impl std::fmt::Debug for ServiceStatus {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceStatus")
            .field("name", &self.name)
            .field("url", &lab::services::redact(&self.url))
            .field("pid", &self.pid)
            .field("answering", &self.answering)
            .finish()
    }
}

/// The status of each recorded service, or `None` when the lab is not up.
pub async fn status(config: &Config) -> Result<Option<Vec<ServiceStatus>>, LabError> {
    let Some(state) = LabState::load(config)? else {
        return Ok(None);
    };
    // A cluster answers as long as its slots are served, whichever nodes run.
    let redis_ok = state.redis_is_alive()
        && connect_redis_target(&state.redis.url, Origin::Lab)
            .await
            .is_ok();
    let mongo_ok = state.mongodb.is_alive()
        && connect_mongodb(&state.mongodb.url, Origin::Lab)
            .await
            .is_ok();
    let row = |name, record: &ServiceRecord, answering| ServiceStatus {
        name,
        url: record.url.clone(),
        pid: record.pid,
        answering,
    };
    let mut rows = vec![
        row("Redis", &state.redis, redis_ok),
        row("MongoDB", &state.mongodb, mongo_ok),
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
        let answering = match node.port {
            Some(port) => node.is_alive() && process::port_accepts(port).await,
            None => false,
        };
        rows.push(row("Redis node", node, answering));
    }
    for (name, helper) in [
        ("Jupyter", &state.notebooks),
        ("API", &state.api),
        ("Worker", &state.worker),
    ] {
        if let Some(record) = helper {
            let answering = match record.port {
                Some(port) => record.is_alive() && process::port_accepts(port).await,
                None => false,
            };
            rows.push(row(name, record, answering));
        }
    }
    Ok(Some(rows))
}
