//! One connection type for a single Redis and for a Redis Cluster, and the
//! `REDIS_URL` forms that name either.
//!
//! A single server is named as usual, `redis://[:password@]host:port[/db]`.
//! A cluster is named by the scheme `redis-cluster://`, its nodes separated
//! by commas: `redis-cluster://:password@127.0.0.1:7000,127.0.0.1:7001/`.
//! Any one reachable node is enough (the client learns the others from it);
//! naming several lets it start while one is down. A cluster has only
//! database 0, so no number may follow the slash.
//!
//! [`RedisConnection`] is what the job queue and the cache hold: the redis
//! crate's [`ConnectionManager`] for one server, its cluster client's
//! connection for a cluster, which routes each command (and each script, by
//! its first key) to the master of the key's slot and follows the cluster
//! when slots move or a replica takes over.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// The scheme of a `REDIS_URL` that names a cluster.
pub const CLUSTER_SCHEME: &str = "redis-cluster://";

/// A connection to a single Redis or to a cluster; cheap to clone (both
/// kinds multiplex one set of sockets).
#[derive(Clone)]
pub enum RedisConnection {
    /// One server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisConnection::Single(_) => "RedisConnection::Single",
            RedisConnection::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl RedisConnection {
    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConnection::Cluster(_))
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> RedisConnection {
        RedisConnection::Single(manager)
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(connection: ClusterConnection) -> RedisConnection {
        RedisConnection::Cluster(connection)
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(connection) => connection.req_packed_command(cmd),
            RedisConnection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            RedisConnection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(connection) => connection.get_db(),
            RedisConnection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// What a `REDIS_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server, at this `redis://` URL.
    Single(String),
    /// A cluster, by the `redis://` URLs of some of its nodes.
    Cluster(Vec<String>),
}

/// A `redis-cluster://` URL that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reason} in the cluster URL {url:?} (expected {CLUSTER_SCHEME}[:password@]host:port[,host:port...]/)"
)]
pub struct ClusterUrlError {
    /// The URL, password hidden.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RedisTarget {
    /// Reads `url`: a `redis-cluster://` URL names a cluster, anything else
    /// one server (the redis crate checks it when connecting).
    pub fn parse(url: &str) -> Result<RedisTarget, ClusterUrlError> {
        let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
            return Ok(RedisTarget::Single(url.to_owned()));
        };
        let error = |reason| ClusterUrlError {
            url: super::redact(url),
            reason,
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if !path.is_empty() && path != "0" {
            return Err(error("a cluster has only database 0"));
        }
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
            None => (String::new(), authority),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .map(|host| format!("redis://{credentials}{host}/"))
            .collect();
        if nodes.is_empty() {
            return Err(error("no node is named"));
        }
        if hosts.split(',').any(|host| !host.contains(':')) {
            return Err(error("every node needs its port"));
        }
        Ok(RedisTarget::Cluster(nodes))
    }

    /// A URL of one server to subscribe on: pub/sub messages reach every
    /// node of a cluster, so any node will do.
    pub fn node_urls(&self) -> Vec<String> {
        match self {
            RedisTarget::Single(url) => vec![url.clone()],
            RedisTarget::Cluster(nodes) => nodes.clone(),
        }
    }

    /// The `redis-cluster://` URL of a cluster of `nodes` (`host:port`),
    /// with `password` if any.
    pub fn cluster_url(password: Option<&str>, nodes: &[String]) -> String {
        let credentials = password.map(|p| format!(":{p}@")).unwrap_or_default();
        format!("{CLUSTER_SCHEME}{credentials}{}/", nodes.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_names_one_server() {
        assert_eq!(
            RedisTarget::parse("redis://127.0.0.1:6379/2"),
            Ok(RedisTarget::Single("redis://127.0.0.1:6379/2".into()))
        );
    }

    #[test]
    fn a_cluster_url_names_its_nodes_with_the_password() {
        assert_eq!(
            RedisTarget::parse("redis-cluster://:s3cret@127.0.0.1:7000,127.0.0.1:7001/"),
            Ok(RedisTarget::Cluster(vec![
                "redis://:s3cret@127.0.0.1:7000/".into(),
                "redis://:s3cret@127.0.0.1:7001/".into(),
            ]))
        );
        let url = RedisTarget::cluster_url(Some("pw"), &["h:1".into(), "h:2".into()]);
        assert_eq!(url, "redis-cluster://:pw@h:1,h:2/");
        assert_eq!(
            RedisTarget::parse(&url).unwrap().node_urls(),
            ["redis://:pw@h:1/", "redis://:pw@h:2/"]
        );
    }

    #[test]
    fn a_bad_cluster_url_says_what_is_wrong() {
        let error = RedisTarget::parse("redis-cluster://:pw@h:1/3").unwrap_err();
        assert_eq!(error.reason, "a cluster has only database 0");
        assert!(!error.to_string().contains("pw"), "{error}");
        assert_eq!(
            RedisTarget::parse("redis-cluster:///").unwrap_err().reason,
            "no node is named"
        );
        assert_eq!(
            RedisTarget::parse("redis-cluster://h1,h2:7000/")
                .unwrap_err()
                .reason,
            "every node needs its port"
        );
    }
}
