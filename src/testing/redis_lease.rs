//! A test's own Redis: a fresh server, or a leased database of `REDIS_URL`.

use std::path::PathBuf;

use redis::AsyncCommands;

use super::HarnessError;
use super::credentials::harness_password;
use super::names::test_dir;
use super::programs::harness_program;
use super::teardown::block_on_side_thread;
use crate::config::Config;
use crate::services::redis_cluster::{self, ClusterOptions, ManagedCluster};
use crate::services::redis_server::{self, RedisOptions};
use crate::services::{
    Lifetime, ManagedServer, Origin, ServiceError, Tool, connect_redis, redis_url_with_database,
};

/// How long a lease on a shared server's database lasts if its test dies
/// without giving it back.
const LEASE_SECONDS: u64 = 3600;

/// A Redis that belongs to one test until it is dropped.
#[derive(Debug)]
pub struct RedisLease {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Own {
        server: Option<ManagedServer>,
        dir: PathBuf,
    },
    Shared {
        base_url: String,
        number: u8,
        token: String,
    },
    Cluster {
        cluster: Option<ManagedCluster>,
        dir: PathBuf,
    },
}

impl RedisLease {
    /// A fresh `redis-server`, or with `REDIS_URL` an empty numbered database on it.
    pub async fn acquire(config: &Config, name: &str) -> Result<RedisLease, HarnessError> {
        match &config.redis_url {
            Some(url) => Self::lease_database(url, name).await,
            None => {
                let program = harness_program(config, Tool::RedisServer)?;
                let dir = test_dir(config, &format!("{name}-redis"));
                let options = RedisOptions {
                    port: None,
                    dir: dir.clone(),
                    persistent: false,
                    lifetime: Lifetime::Tied,
                    password: Some(harness_password().to_owned()),
                };
                let server = redis_server::start(&program, &options).await?;
                Ok(RedisLease {
                    url: server.url().to_owned(),
                    kind: Kind::Own {
                        server: Some(server),
                        dir,
                    },
                })
            }
        }
    }

    /// A fresh cluster of `masters` masters with `replicas` replicas each,
    /// always of the test's own (even with `REDIS_URL` set: a shared cluster
    /// has no numbered databases to lease).
    pub async fn acquire_cluster(
        config: &Config,
        name: &str,
        masters: usize,
        replicas: usize,
    ) -> Result<RedisLease, HarnessError> {
        let program = harness_program(config, Tool::RedisServer)?;
        let dir = test_dir(config, &format!("{name}-redis-cluster"));
        let mut options = ClusterOptions::new(masters, replicas, dir.clone());
        options.password = Some(harness_password().to_owned());
        let cluster = redis_cluster::start(&program, &options).await?;
        Ok(RedisLease {
            url: cluster.url(),
            kind: Kind::Cluster {
                cluster: Some(cluster),
                dir,
            },
        })
    }

    /// The cluster, when this lease is one.
    pub fn cluster_mut(&mut self) -> Option<&mut ManagedCluster> {
        match &mut self.kind {
            Kind::Cluster { cluster, .. } => cluster.as_mut(),
            _ => None,
        }
    }

    /// The URL of this test's Redis (`redis-cluster://...` for a cluster).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the harness started this Redis (rather than leasing a
    /// database of `REDIS_URL`).
    pub fn is_own_server(&self) -> bool {
        matches!(self.kind, Kind::Own { .. })
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster { .. })
    }

    /// Claims the first free database from 1 to 15 with a key in database 0
    /// (`SET ... NX` succeeds for one claimant only), then empties it.
    async fn lease_database(base_url: &str, name: &str) -> Result<RedisLease, HarnessError> {
        let origin = Origin::Variable("REDIS_URL");
        let mut control = connect_redis(&redis_url_with_database(base_url, 0), origin).await?;
        for number in 1..16u8 {
            let claimed: bool = redis::cmd("SET")
                .arg(lease_key(number))
                .arg(name)
                .arg("NX")
                .arg("EX")
                .arg(LEASE_SECONDS)
                .query_async::<Option<String>>(&mut control)
                .await
                .map(|reply| reply.is_some())
                .map_err(|error| redis_failure(base_url, &error))?;
            if claimed {
                let url = redis_url_with_database(base_url, number);
                let mut connection = connect_redis(&url, origin).await?;
                redis::cmd("FLUSHDB")
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(|error| redis_failure(base_url, &error))?;
                return Ok(RedisLease {
                    url,
                    kind: Kind::Shared {
                        base_url: base_url.to_owned(),
                        number,
                        token: name.to_owned(),
                    },
                });
            }
        }
        Err(ServiceError::Unreachable {
            service: "Redis",
            url: crate::services::redact(base_url),
            reason: "databases 1 to 15 are all leased by other tests".into(),
            hint: "run fewer tests at once (cargo test -- --test-threads 8)".into(),
        }
        .into())
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        match &mut self.kind {
            Kind::Own { server, dir } => {
                if let Some(server) = server.take() {
                    server.stop();
                }
                let _ = std::fs::remove_dir_all(dir);
            }
            Kind::Cluster { cluster, dir } => {
                if let Some(cluster) = cluster.take() {
                    cluster.stop();
                }
                let _ = std::fs::remove_dir_all(dir);
            }
            Kind::Shared {
                base_url,
                number,
                token,
            } => {
                let (url, control_url) = (self.url.clone(), redis_url_with_database(base_url, 0));
                let (key, token) = (lease_key(*number), token.clone());
                block_on_side_thread(move || async move {
                    if let Ok(mut connection) = connect_redis(&url, Origin::Lab).await {
                        let _: Result<(), _> =
                            redis::cmd("FLUSHDB").query_async(&mut connection).await;
                    }
                    if let Ok(mut control) = connect_redis(&control_url, Origin::Lab).await {
                        // Release only our own lease, even if it expired and was taken.
                        let holder: Option<String> = control.get(&key).await.unwrap_or(None);
                        if holder.as_deref() == Some(token.as_str()) {
                            let _: Result<(), _> = control.del(&key).await;
                        }
                    }
                });
            }
        }
    }
}

fn lease_key(number: u8) -> String {
    format!("lab:test-lease:{number}")
}

fn redis_failure(url: &str, error: &redis::RedisError) -> HarnessError {
    ServiceError::Unreachable {
        service: "Redis",
        url: crate::services::redact(url),
        reason: error.to_string(),
        hint: "check REDIS_URL".into(),
    }
    .into()
}
