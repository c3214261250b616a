//! The services the lab runs: Redis and the embedded MongoDB server.
//!
//! `tools` finds or installs the programs, `process` and `launcher` start and
//! stop them, `redis_server` and `mongo_server` know each one's command line,
//! and `clients` connects to any server, ours or one given by URL.

pub mod clients;
pub mod error;
pub mod launcher;
pub mod mongo_server;
pub mod process;
pub mod redis_cluster;
pub mod redis_connection;
pub mod redis_server;
pub mod secret;
pub mod server_kind;
pub mod tools;

pub use clients::{
    Origin, answer_lost, connect_mongodb, connect_mongodb_with, connect_redis,
    connect_redis_target, connect_redis_target_or_later, is_not_ready, is_outage, redact,
    redis_url_with_database,
};
pub use error::ServiceError;
pub use launcher::ManagedServer;
pub use mongo_server::MongoOptions;
pub use process::Lifetime;
pub use redis_cluster::{ClusterOptions, ManagedCluster};
pub use redis_connection::{RedisConnection, RedisTarget};
pub use redis_server::RedisOptions;
pub use server_kind::ServerKind;
pub use tools::{Platform, Tool, ToolError, Toolbox};
