//! What a notebook's first cell calls: connections to the running lab.
//!
//! Notebooks never start servers of their own. They use the Redis and
//! MongoDB that `cargo lab up` started (found through `LAB_HOME/lab.json`),
//! or the servers named by `REDIS_URL` and `MONGODB_URI`.
//!
//! The lesson on Redis Cluster is the exception: it starts a small cluster
//! of its own with [`small_cluster`], since the lab's Redis is one server.
//!
//! ```no_run
//! # async fn cell() -> Result<(), lab::notebook::NotebookError> {
//! let lab = lab::notebook::Lab::connect().await?;
//! let mut redis = lab.redis.clone();
//! let customers = lab::billing::collections::customers(&lab.db);
//! # Ok(()) }
//! ```

pub mod chart;
pub mod cluster;
pub mod error;
pub mod worker;

pub use cluster::small_cluster;
pub use error::NotebookError;
pub use worker::BackgroundWorker;

use mongodb::Database;
use redis::aio::ConnectionManager;

use crate::config::Config;
use crate::running;
use crate::services::{connect_mongodb, connect_redis};

/// Connections to the lab's services, made once and cloned freely: both the
/// Redis connection manager and the MongoDB database are handles to shared,
/// self-reconnecting connections.
#[derive(Clone)]
pub struct Lab {
    /// Redis.
    pub redis: ConnectionManager,
    /// The billing database.
    pub db: Database,
    /// The Redis URL, to show or to open another client with.
    pub redis_url: String,
    /// The MongoDB URI, to show or to open another client with.
    pub mongodb_uri: String,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("redis", &crate::services::redact(&self.redis_url))
            .field("mongodb", &crate::services::redact(&self.mongodb_uri))
            .field("database", &self.db.name())
            .finish()
    }
}

impl Lab {
    /// Connects to the running lab, as configured by the environment.
    pub async fn connect() -> Result<Lab, NotebookError> {
        let config = Config::from_env()?;
        Self::connect_with(&config).await
    }

    /// A connection to another numbered database (0 to 15) of the same Redis
    /// server. Databases share the server but not their keys.
    pub async fn redis_database(&self, number: u8) -> Result<ConnectionManager, NotebookError> {
        if number > 15 {
            return Err(NotebookError::NoSuchDatabase { number });
        }
        let url = crate::services::redis_url_with_database(&self.redis_url, number);
        Ok(connect_redis(&url, crate::services::Origin::Lab).await?)
    }

    /// Connects to the lab that `config` describes.
    pub async fn connect_with(config: &Config) -> Result<Lab, NotebookError> {
        let (redis_url, redis_origin) = running::redis_location(config)?;
        if redis_url.starts_with(crate::services::redis_connection::CLUSTER_SCHEME) {
            return Err(NotebookError::ClusterNotSupported {
                what: "a notebook (numbered databases, MONITOR, keys of any name)",
                url: crate::services::redact(&redis_url),
            });
        }
        let (mongodb_uri, mongodb_origin) = running::mongodb_location(config)?;
        let (redis, client) = tokio::try_join!(
            connect_redis(&redis_url, redis_origin),
            connect_mongodb(&mongodb_uri, mongodb_origin),
        )?;
        Ok(Lab {
            redis,
            db: client.database(&config.database),
            redis_url,
            mongodb_uri,
        })
    }
}
