//! Forming the cluster once its nodes run (steps 2 to 5 of the recipe in
//! the module's documentation), or, on a restart of a whole one, only
//! reminding each node of the others' addresses; then waiting until every
//! slot is served.

use std::path::Path;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use super::commands::{command, info_number, myself, not_formed};
use super::managed::{ClusterNode, ManagedCluster};
use super::nodes::{ClusterOptions, start_nodes};
use crate::services::clients::{Origin, connect_redis};
use crate::services::error::ServiceError;

/// The number of hash slots of every Redis Cluster.
pub const SLOTS: u16 = 16384;

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
