//! A cluster this process started, held as a value: its nodes and URL, and
//! what can be done to it afterwards (kill one node, let all run on, stop).

use crate::services::launcher::ManagedServer;
use crate::services::redis_connection::RedisTarget;

/// One node of a [`ManagedCluster`].
#[derive(Debug)]
pub struct ClusterNode {
    pub(super) server: Option<ManagedServer>,
    pub(super) id: String,
    pub(super) port: u16,
    pub(super) bus_port: u16,
    /// The index of the master it was started to follow; `None` for a master.
    pub(super) follows: Option<usize>,
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
    pub(super) nodes: Vec<ClusterNode>,
    pub(super) password: Option<String>,
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
