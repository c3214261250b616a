//! The servers `lab up` starts itself: one Redis or a Redis Cluster, and
//! MongoDB, on the ports of last time when they are free.

use std::time::Duration;

use crate::control::error::LabError;
use crate::control::secrets::Secrets;
use crate::control::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::services::mongo_server::{self, MongoOptions};
use lab::services::process::{self, program_name};
use lab::services::redis_cluster::{self, ClusterOptions, ManagedCluster};
use lab::services::redis_server::{self, RedisOptions};
use lab::services::{Lifetime, ManagedServer, Tool, Toolbox};

/// A Redis `up` started and has not yet handed to the state file: dropped,
/// it stops.
pub(super) enum StartedRedis {
    Server(ManagedServer),
    Cluster(ManagedCluster),
}

impl StartedRedis {
    /// Leaves it running, recorded in the state file.
    pub(super) fn detach(self) {
        match self {
            StartedRedis::Server(server) => {
                server.detach();
            }
            StartedRedis::Cluster(cluster) => {
                cluster.detach();
            }
        }
    }
}

/// The lab's Redis as recorded: its record, the records of a cluster's
/// other nodes, and what this `up` started.
pub(super) type RedisStart = ((ServiceRecord, Vec<ServiceRecord>), Option<StartedRedis>);

/// Starts one Redis server under `LAB_HOME/redis`, on `LAB_REDIS_PORT`, the
/// port of last time, or a free one.
pub(super) async fn start_redis(
    config: &Config,
    toolbox: &Toolbox,
    previous: Option<&LabState>,
    secrets: &Secrets,
    say: &dyn Fn(&str),
) -> Result<RedisStart, LabError> {
    let program = toolbox.ensure(Tool::RedisServer, say)?;
    say("starting Redis");
    let options = RedisOptions {
        port: config
            .redis_port
            .or_else(|| reusable_port(previous.map(|s| &s.redis))),
        dir: config.service_dir("redis"),
        persistent: true,
        lifetime: Lifetime::Detached,
        password: Some(secrets.redis_password.clone()),
    };
    let server = redis_server::start(&program, &options).await?;
    let record = managed(&server, &program, options.dir.join("redis.log"));
    Ok(((record, Vec::new()), Some(StartedRedis::Server(server))))
}

/// Starts three masters with a replica each under `LAB_HOME/redis-cluster`,
/// on `LAB_REDIS_PORT` and the five ports after it, or on the ports of last
/// time, or on free ones.
pub(super) async fn start_redis_cluster(
    config: &Config,
    toolbox: &Toolbox,
    previous: Option<&LabState>,
    secrets: &Secrets,
    say: &dyn Fn(&str),
) -> Result<RedisStart, LabError> {
    let program = toolbox.ensure(Tool::RedisServer, say)?;
    say("starting a Redis Cluster (three masters, a replica each)");
    let mut options = ClusterOptions::new(3, 1, config.service_dir("redis-cluster"));
    let nodes = options.masters * (1 + options.replicas_per_master);
    options.first_port = config
        .redis_port
        .or_else(|| {
            // The ports of last time, so the nodes' tables stay right.
            let previous = previous.filter(|state| state.redis_is_cluster())?;
            reusable_port(Some(&previous.redis)).filter(|&first| block_is_free(first, nodes))
        })
        .or_else(|| free_block(nodes));
    options.persistent = true;
    options.lifetime = Lifetime::Detached;
    options.password = Some(secrets.redis_password.clone());
    // Long enough that a busy machine is not mistaken for a failed master.
    options.node_timeout = Duration::from_secs(5);
    let cluster = redis_cluster::start(&program, &options).await?;
    let url = cluster.url();
    let mut records = cluster
        .nodes()
        .iter()
        .enumerate()
        .map(|(index, node)| ServiceRecord {
            url: node.url().map(str::to_owned).unwrap_or_default(),
            pid: node.pid(),
            program: program_name(&program),
            port: Some(node.port()),
            log: Some(options.dir.join(format!("node-{index}")).join("redis.log")),
        });
    let first = records
        .next()
        .map(|first| ServiceRecord { url, ..first })
        .ok_or(lab::services::ServiceError::ClusterNotFormed {
            reason: "no node was started".into(),
        })?;
    let others = records.collect();
    Ok(((first, others), Some(StartedRedis::Cluster(cluster))))
}

/// Starts the MongoDB server under `LAB_HOME/mongodb`, on `LAB_MONGODB_PORT`,
/// the port of last time, or a free one.
pub(super) async fn start_mongodb(
    config: &Config,
    toolbox: &Toolbox,
    previous: Option<&LabState>,
    secrets: &Secrets,
    say: &dyn Fn(&str),
) -> Result<(ServiceRecord, Option<ManagedServer>), LabError> {
    let program = toolbox.ensure(Tool::Secantus, say)?;
    say("starting MongoDB (the embedded secantusd-rs server)");
    let options = MongoOptions {
        port: config
            .mongodb_port
            .or_else(|| reusable_port(previous.map(|s| &s.mongodb))),
        dir: config.service_dir("mongodb"),
        cache_size: "512M",
        lifetime: Lifetime::Detached,
        sync_on_commit: true,
        credentials: Some(secrets.mongodb_credentials()),
    };
    let server = mongo_server::start(&program, &options).await?;
    let record = managed(&server, &program, options.dir.join("mongodb.log"));
    Ok((record, Some(server)))
}

/// Whether ports `first` to `first + count - 1` are all free.
fn block_is_free(first: u16, count: usize) -> bool {
    (0..count).all(|offset| {
        u16::try_from(offset)
            .ok()
            .and_then(|offset| first.checked_add(offset))
            .is_some_and(process::port_is_free)
    })
}

/// The first of `count` free ports in a row, near one the system offers.
fn free_block(count: usize) -> Option<u16> {
    (0..20)
        .filter_map(|_| process::free_port().ok())
        .find(|&first| block_is_free(first, count))
}

/// The port a service had last time, if it is free: keeps URLs stable across
/// `lab down` and `lab up`.
fn reusable_port(record: Option<&ServiceRecord>) -> Option<u16> {
    record
        .and_then(|record| record.port)
        .filter(|port| process::port_is_free(*port))
}

/// The record of a server the lab started.
fn managed(
    server: &ManagedServer,
    program: &std::path::Path,
    log: std::path::PathBuf,
) -> ServiceRecord {
    ServiceRecord {
        url: server.url().to_owned(),
        pid: server.pid(),
        program: program_name(program),
        port: Some(server.port()),
        log: Some(log),
    }
}
