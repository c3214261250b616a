//! No-op throughput on a Redis Cluster of the run's own, the queue sharded
//! across its masters.

use std::time::Instant;

use super::plan::{JobsBenchPlan, RQ_WORKERS};
use super::queue::{drained, submit_noops};
use super::report::Throughput;
use super::workers::Workers;
use crate::bench::failed;
use crate::control::LabError;
use lab::config::Config;
use lab::jobs::{JobQueue, ShardCount};
use lab::services::redis_cluster::{self, ClusterOptions};
use lab::services::{Origin, Tool, Toolbox, connect_redis_target};

/// No-op throughput with [`RQ_WORKERS`] workers on a fresh cluster of
/// `masters` masters (no replicas, nothing saved), the queue in two shards
/// per master; `environment` names the database and `LAB_HOME`.
pub(super) async fn on_cluster(
    config: &Config,
    plan: &JobsBenchPlan,
    masters: usize,
    environment: &[(&str, String)],
    say: &dyn Fn(&str),
) -> Result<Throughput, LabError> {
    let program = Toolbox::new(config).ensure(Tool::RedisServer, say)?;
    let dir = config
        .home
        .join("bench")
        .join(format!("p{}-cluster-{masters}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster =
        redis_cluster::start(&program, &ClusterOptions::new(masters, 0, dir.clone())).await?;
    let shards = ShardCount::new(2 * masters).map_err(failed("choosing the shards"))?;
    let redis = connect_redis_target(&cluster.url(), Origin::Lab).await?;
    let queue = JobQueue::new(redis, lab::jobs::PREFIX).with_shards(shards);
    let mut variables = environment.to_vec();
    variables.push(("REDIS_URL", cluster.url()));
    variables.push(("LAB_JOB_SHARDS", shards.get().to_string()));
    let running = Workers::start(&plan.lab, RQ_WORKERS, plan.concurrency, &variables).await?;
    let started = Instant::now();
    submit_noops(&queue, plan.jobs).await?;
    drained(&queue).await?;
    let elapsed = started.elapsed();
    running.stop().await;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Throughput {
        workers: RQ_WORKERS,
        concurrency: plan.concurrency,
        jobs: plan.jobs,
        elapsed,
    })
}
