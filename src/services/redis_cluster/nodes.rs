//! How a cluster's nodes are described ([`ClusterOptions`]) and started:
//! each a `redis-server` with `cluster-enabled`, its own folder and a bus
//! port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::services::error::ServiceError;
use crate::services::launcher::ManagedServer;
use crate::services::process::Lifetime;
use crate::services::redis_server::{self, ClusterNodeSettings, RedisOptions};

/// How a cluster is started.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// How many masters share the slots (at least 1).
    pub masters: usize,
    /// How many replicas follow each master.
    pub replicas_per_master: usize,
    /// The folder under which each node gets `node-N` for its data and log.
    pub dir: PathBuf,
    /// The first client port, the others following it (`None`: any free ports).
    pub first_port: Option<u16>,
    /// Keep data across restarts (see [`RedisOptions::persistent`]).
    pub persistent: bool,
    /// Whether the nodes outlive this process.
    pub lifetime: Lifetime,
    /// The password of every node, also used between replicas and masters.
    pub password: Option<String>,
    /// How long a master may be unreachable before its replica takes over.
    pub node_timeout: Duration,
}

impl ClusterOptions {
    /// `masters` masters with `replicas_per_master` replicas each, in `dir`,
    /// on free ports, without persistence, tied to this process.
    pub fn new(masters: usize, replicas_per_master: usize, dir: PathBuf) -> ClusterOptions {
        ClusterOptions {
            masters,
            replicas_per_master,
            dir,
            first_port: None,
            persistent: false,
            lifetime: Lifetime::Tied,
            password: None,
            node_timeout: Duration::from_secs(2),
        }
    }

    fn node_count(&self) -> usize {
        self.masters * (1 + self.replicas_per_master)
    }
}

/// Starts every node, each in its own folder, on its own ports.
pub(super) async fn start_nodes(
    program: &Path,
    options: &ClusterOptions,
) -> Result<Vec<ManagedServer>, ServiceError> {
    let mut servers = Vec::with_capacity(options.node_count());
    for index in 0..options.node_count() {
        let port = options.first_port.map(|first| first + index as u16);
        let node = RedisOptions {
            port,
            dir: options.dir.join(format!("node-{index}")),
            persistent: options.persistent,
            lifetime: options.lifetime,
            password: options.password.clone(),
        };
        let settings = ClusterNodeSettings {
            // Redis's own rule, the client port plus 10000, when it fits.
            bus_port: port.and_then(|port| port.checked_add(10000)),
            node_timeout: options.node_timeout,
        };
        servers.push(redis_server::start_node(program, &node, Some(settings)).await?);
    }
    Ok(servers)
}
