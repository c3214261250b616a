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
use super::process::Lifetime;
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
///
/// Nodes that already form a whole cluster (a restart of the lab's
/// persistent one, on the same ports) are only waited for. Nodes left from
/// another cluster (a table that does not match) are emptied and reset
/// first: their slots could not be trusted.
pub async fn start(
    program: &Path,
    options: &ClusterOptions,
) -> Result<ManagedCluster, ServiceError> {
    if options.masters == 0 {
        return Err(not_formed("a cluster needs at least one master".into()));
    }
    let servers = start_nodes(program, options).await?;
    let mut connections = Vec::with_capacity(servers.len());
    for server in &servers {
        connections.push(connect_redis(server.url(), Origin::Lab).await?);
    }
    let mut pristine = Vec::with_capacity(connections.len());
    for connection in &mut connections {
        let info: String = command(connection, redis::cmd("CLUSTER").arg("INFO")).await?;
        pristine.push((
            info_number(&info, "cluster_known_nodes"),
            info_number(&info, "cluster_slots_assigned"),
        ));
    }
    let whole = pristine
        .iter()
        .all(|&(known, slots)| known == servers.len() && slots == usize::from(SLOTS));
    if !whole {
        for (connection, &(known, slots)) in connections.iter_mut().zip(&pristine) {
            if known > 1 || slots > 0 {
                // A replica refuses FLUSHALL; it is emptied by the reset.
                let _: Result<(), _> = redis::cmd("FLUSHALL").query_async(connection).await;
                let _: () =
                    command(connection, redis::cmd("CLUSTER").arg("RESET").arg("HARD")).await?;
            }
        }
    }
    let mut nodes = Vec::with_capacity(servers.len());
    for (index, (server, connection)) in servers.into_iter().zip(&mut connections).enumerate() {
        let table: String = command(connection, redis::cmd("CLUSTER").arg("NODES")).await?;
        let (id, bus_port) = myself(&table)
            .ok_or_else(|| not_formed(format!("no `myself` line in CLUSTER NODES: {table}")))?;
        nodes.push(ClusterNode {
            port: server.port(),
            server: Some(server),
            id,
            bus_port,
            follows: (index >= options.masters).then(|| index % options.masters),
        });
    }
    let cluster = ManagedCluster {
        nodes,
        password: options.password.clone(),
    };
    let deadline = Instant::now() + FORMING_TIME;
    if whole {
        // A restart: each node's table may hold the others' bus ports of
        // last time; meeting them again at today's addresses updates it.
        for connection in connections.iter_mut() {
            for node in &cluster.nodes {
                meet(connection, node).await?;
            }
        }
    } else {
        form(&cluster, &mut connections, options, deadline).await?;
    }
    wait_until_serving(&mut connections, deadline).await?;
    Ok(cluster)
}

/// The node's own id and bus port, from its `CLUSTER NODES` table: the line
/// flagged `myself` reads `ID IP:PORT@BUSPORT[,HOSTNAME] FLAGS ...`.
fn myself(table: &str) -> Option<(String, u16)> {
    table.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let id = fields.next()?;
        let address = fields.next()?;
        let flags = fields.next()?;
        if !flags.split(',').any(|flag| flag == "myself") {
            return None;
        }
        let bus = address.split_once('@')?.1;
        let bus = bus.split(',').next()?.parse().ok()?;
        Some((id.to_owned(), bus))
    })
}

/// A number of `CLUSTER INFO`'s `name:value` lines (0 if absent).
fn info_number(info: &str, name: &str) -> usize {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Starts every node, each in its own folder, on its own ports.
async fn start_nodes(
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

/// How long forming a cluster may take once its nodes run.
const FORMING_TIME: Duration = Duration::from_secs(30);

/// Steps 2 to 4 of the module's recipe.
async fn form(
    cluster: &ManagedCluster,
    connections: &mut [ConnectionManager],
    options: &ClusterOptions,
    deadline: Instant,
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
        meet(first, node).await?;
    }
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
    Ok(())
}

/// Waits until every node serves the whole slot range and every replica's
/// link to its master is up.
async fn wait_until_serving(
    connections: &mut [ConnectionManager],
    deadline: Instant,
) -> Result<(), ServiceError> {
    wait_for(deadline, "every slot to be served", async || {
        for connection in connections.iter_mut() {
            let info: String = command(connection, redis::cmd("CLUSTER").arg("INFO")).await?;
            if !info.contains("cluster_state:ok") {
                return Ok(false);
            }
            // By role now, not at start: a replica that took over in an
            // earlier run is a master after a restart.
            let replication: String =
                command(connection, redis::cmd("INFO").arg("replication")).await?;
            if replication.contains("role:slave") && !replication.contains("master_link_status:up")
            {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await
}

/// Has the node behind `connection` meet `node` at its address.
async fn meet(connection: &mut ConnectionManager, node: &ClusterNode) -> Result<(), ServiceError> {
    command(
        connection,
        redis::cmd("CLUSTER")
            .arg("MEET")
            .arg("127.0.0.1")
            .arg(node.port)
            .arg(node.bus_port),
    )
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
    fn a_node_finds_its_own_id_and_bus_port_in_its_table() {
        let table = "07c3 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922\n\
                     e7d1 127.0.0.1:30001@41234,host myself,master - 0 0 1 connected 0-5460\n";
        assert_eq!(myself(table), Some(("e7d1".to_owned(), 41234)));
        assert_eq!(
            myself("07c3 127.0.0.1:30002@40002 master - 0 1 2 connected"),
            None
        );
        let info = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n";
        assert_eq!(info_number(info, "cluster_known_nodes"), 6);
        assert_eq!(info_number(info, "cluster_slots_assigned"), 16384);
        assert_eq!(info_number(info, "cluster_size"), 0);
    }

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
