//! Running a Redis Cluster of real `redis-server` processes.
//!
//! A cluster splits the 16,384 hash slots between masters; each key lives in
//! the slot of its name (or of the part between `{` and `}`, its hash tag),
//! and a replica of each master takes over when the master fails. The lab
//! forms one on this machine the way `redis-cli --cluster create` does, with
//! the commands themselves so no other tool is needed:
//!
//! 1. every node starts with `cluster-enabled`, its own folder and a bus port;
//! 2. each master is given an equal, contiguous range of slots
//!    (`CLUSTER ADDSLOTSRANGE`) and a distinct configuration epoch;
//! 3. the first node meets every other (`CLUSTER MEET`), and gossip spreads
//!    the rest;
//! 4. each replica follows its master (`CLUSTER REPLICATE`);
//! 5. it is ready when every node reports `cluster_state:ok` and every
//!    replica's link to its master is up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use super::clients::{Origin, connect_redis};
use super::error::ServiceError;
use super::launcher::ManagedServer;
use super::process::{self, Lifetime};
use super::redis_connection::RedisTarget;
use super::redis_server::{self, ClusterNodeSettings, RedisOptions};

/// The number of hash slots of every Redis Cluster.
pub const SLOTS: u16 = 16384;

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

/// One node of a [`ManagedCluster`].
#[derive(Debug)]
pub struct ClusterNode {
    server: Option<ManagedServer>,
    id: String,
    port: u16,
    bus_port: u16,
    /// The index of the master it was started to follow; `None` for a master.
    follows: Option<usize>,
}

impl ClusterNode {
    /// Its client port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its cluster node id (40 hexadecimal digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether it was started as a master (a replica may since have taken over).
    pub fn started_as_master(&self) -> bool {
        self.follows.is_none()
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().and_then(ManagedServer::pid)
    }

    /// The URL of this one node.
    pub fn url(&self) -> Option<&str> {
        self.server.as_ref().map(ManagedServer::url)
    }
}

/// A cluster this process started; dropping it stops every node still
/// held (see [`ManagedServer`]).
#[derive(Debug)]
pub struct ManagedCluster {
    nodes: Vec<ClusterNode>,
    password: Option<String>,
}

impl ManagedCluster {
    /// The `redis-cluster://` URL naming every node, password included.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        RedisTarget::cluster_url(self.password.as_deref(), &nodes)
    }

    /// Every node, masters first, in start order.
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// The node listening on `port`, if it is one of ours.
    pub fn node_on(&self, port: u16) -> Option<&ClusterNode> {
        self.nodes.iter().find(|node| node.port == port)
    }

    /// Kills the node on `port` at once (SIGKILL, no chance to save
    /// anything), as a crash would; returns whether it was ours and running.
    pub fn kill(&mut self, port: u16) -> bool {
        let Some(node) = self.nodes.iter_mut().find(|node| node.port == port) else {
            return false;
        };
        match node.server.take() {
            Some(server) => {
                server.kill();
                true
            }
            None => false,
        }
    }

    /// Leaves every node running after this value is gone, returning their
    /// process ids (for `lab up`, which records them).
    pub fn detach(mut self) -> Vec<u32> {
        self.nodes
            .iter_mut()
            .filter_map(|node| node.server.take().map(ManagedServer::detach))
            .collect()
    }

    /// Stops every node gracefully.
    pub fn stop(mut self) {
        for node in &mut self.nodes {
            if let Some(server) = node.server.take() {
                server.stop();
            }
        }
    }
}

/// Starts the nodes `options` describes with `program` (`redis-server`),
/// forms them into a cluster and waits until it serves every slot.
pub async fn start(
    program: &Path,
    options: &ClusterOptions,
) -> Result<ManagedCluster, ServiceError> {
    if options.masters == 0 {
        return Err(not_formed("a cluster needs at least one master".into()));
    }
    let servers = start_nodes(program, options).await?;
    let mut connections = Vec::with_capacity(servers.len());
    for (server, _) in &servers {
        connections.push(connect_redis(server.url(), Origin::Lab).await?);
    }
    let mut nodes = Vec::with_capacity(servers.len());
    for (index, ((server, bus_port), connection)) in
        servers.into_iter().zip(&mut connections).enumerate()
    {
        let id: String = command(connection, redis::cmd("CLUSTER").arg("MYID")).await?;
        let port = server.port();
        let follows = (index >= options.masters).then(|| index % options.masters);
        nodes.push(ClusterNode {
            server: Some(server),
            id,
            port,
            bus_port,
            follows,
        });
    }
    let cluster = ManagedCluster {
        nodes,
        password: options.password.clone(),
    };
    form(&cluster, &mut connections, options).await?;
    Ok(cluster)
}

/// Starts every node, each in its own folder, on its own ports; answers
/// each with its bus port.
async fn start_nodes(
    program: &Path,
    options: &ClusterOptions,
) -> Result<Vec<(ManagedServer, u16)>, ServiceError> {
    let mut servers = Vec::with_capacity(options.node_count());
    for index in 0..options.node_count() {
        let port = options.first_port.map(|first| first + index as u16);
        let bus_port = match port {
            // Redis's own rule, the client port plus 10000, when it fits.
            Some(port) if port <= u16::MAX - 10000 => port + 10000,
            _ => process::free_port().map_err(|source| ServiceError::Io {
                context: "cannot find a free port on 127.0.0.1 for the cluster bus".into(),
                source,
            })?,
        };
        let node = RedisOptions {
            port,
            dir: options.dir.join(format!("node-{index}")),
            persistent: options.persistent,
            lifetime: options.lifetime,
            password: options.password.clone(),
        };
        let settings = ClusterNodeSettings {
            bus_port,
            node_timeout: options.node_timeout,
        };
        let server = redis_server::start_node(program, &node, Some(settings)).await?;
        servers.push((server, bus_port));
    }
    Ok(servers)
}

/// How long forming a cluster may take once its nodes run.
const FORMING_TIME: Duration = Duration::from_secs(30);

/// Steps 2 to 5 of the module's recipe.
async fn form(
    cluster: &ManagedCluster,
    connections: &mut [ConnectionManager],
    options: &ClusterOptions,
) -> Result<(), ServiceError> {
    for (index, connection) in connections.iter_mut().enumerate() {
        // Distinct epochs, so no two masters start by claiming the same one.
        let _: () = command(
            connection,
            redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(index + 1),
        )
        .await?;
        if index < options.masters {
            let (first, last) = slot_range(index, options.masters);
            let _: () = command(
                connection,
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(first)
                    .arg(last),
            )
            .await?;
        }
    }
    let (first, others) = connections
        .split_first_mut()
        .ok_or_else(|| not_formed("no node was started".into()))?;
    for (node, _) in cluster.nodes.iter().skip(1).zip(others.iter()) {
        let _: () = command(
            first,
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(node.port)
                .arg(node.bus_port),
        )
        .await?;
    }
    let deadline = Instant::now() + FORMING_TIME;
    wait_for(deadline, "every node to know every other", async || {
        for connection in connections.iter_mut() {
            let table: String = command(connection, redis::cmd("CLUSTER").arg("NODES")).await?;
            let known = table
                .lines()
                .filter(|line| !line.contains("handshake") && !line.contains("noaddr"))
                .count();
            if known < cluster.nodes.len() {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    for (node, connection) in cluster.nodes.iter().zip(connections.iter_mut()) {
        if let Some(master) = node.follows {
            let master_id = &cluster.nodes[master].id;
            let _: () = command(
                connection,
                redis::cmd("CLUSTER").arg("REPLICATE").arg(master_id),
            )
            .await?;
        }
    }
    wait_for(deadline, "every slot to be served", async || {
        for (node, connection) in cluster.nodes.iter().zip(connections.iter_mut()) {
            let info: String = command(connection, redis::cmd("CLUSTER").arg("INFO")).await?;
            if !info.contains("cluster_state:ok") {
                return Ok(false);
            }
            if node.follows.is_some() {
                let replication: String =
                    command(connection, redis::cmd("INFO").arg("replication")).await?;
                if !replication.contains("master_link_status:up") {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    })
    .await
}

/// Slots `[first, last]` of master `index` of `masters`: equal shares, in order.
pub fn slot_range(index: usize, masters: usize) -> (u16, u16) {
    let share = |i: usize| (i * usize::from(SLOTS) / masters) as u16;
    (share(index), share(index + 1) - 1)
}

/// Polls `ready` until it says yes, giving up at `deadline` with what was
/// awaited.
async fn wait_for(
    deadline: Instant,
    what: &str,
    mut ready: impl AsyncFnMut() -> Result<bool, ServiceError>,
) -> Result<(), ServiceError> {
    let mut pause = Duration::from_millis(10);
    loop {
        if ready().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_formed(format!(
                "waited {} s for {what}",
                FORMING_TIME.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

async fn command<T: redis::FromRedisValue>(
    connection: &mut ConnectionManager,
    command: &mut redis::Cmd,
) -> Result<T, ServiceError> {
    command
        .query_async(connection)
        .await
        .map_err(|error| not_formed(error.to_string()))
}

fn not_formed(reason: String) -> ServiceError {
    ServiceError::ClusterNotFormed { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_share_every_slot_once_in_order() {
        for masters in 1..=8 {
            let mut next = 0u32;
            for index in 0..masters {
                let (first, last) = slot_range(index, masters);
                assert_eq!(u32::from(first), next, "{masters} masters, master {index}");
                assert!(last >= first);
                next = u32::from(last) + 1;
            }
            assert_eq!(next, u32::from(SLOTS));
        }
    }
}
