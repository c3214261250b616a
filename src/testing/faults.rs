//! Servers a test may stop or kill to see what its code does when one goes
//! away: a Redis of its own, and an embedded MongoDB restarted on the store
//! of the one it killed; a connection to that Redis that is refused some
//! commands; and a unique index that makes MongoDB refuse a write.

use super::HarnessError;
use super::credentials::{harness_credentials, harness_password};
use super::names::{test_dir, unique_name};
use super::programs::harness_program;
use crate::config::Config;

/// A `redis-server` of the test's own, started fresh even when `REDIS_URL`
/// is set, which the test may stop ([`crate::services::ManagedServer::stop`])
/// to see what its code does when Redis goes away mid-run.
pub async fn stoppable_redis() -> crate::services::ManagedServer {
    start_stoppable_redis(None).await
}

/// Like [`stoppable_redis`], on `port`: started again where a stopped one
/// was, it is the same Redis (empty) to every client that knew the old one.
pub async fn stoppable_redis_at(port: u16) -> crate::services::ManagedServer {
    start_stoppable_redis(Some(port)).await
}

async fn start_stoppable_redis(port: Option<u16>) -> crate::services::ManagedServer {
    let started = async {
        let config = Config::from_env()?;
        let program = harness_program(&config, crate::services::Tool::RedisServer)?;
        let options = crate::services::RedisOptions {
            port,
            dir: test_dir(&config, &format!("{}-stoppable-redis", unique_name())),
            persistent: false,
            lifetime: crate::services::Lifetime::Tied,
            password: Some(harness_password().to_owned()),
        };
        let server = crate::services::redis_server::start(&program, &options).await?;
        Ok::<_, HarnessError>(server)
    };
    started
        .await
        .unwrap_or_else(|error| panic!("cannot start a Redis for the test: {error}"))
}

/// A connection to `server` (from [`stoppable_redis`]) as a user of its own
/// that may run every command but those `denied` names in ACL rules
/// (`"-del"`, `"-@write"`), so a test can see what code does when Redis
/// refuses one of its commands.
pub async fn restricted_redis(
    server: &crate::services::ManagedServer,
    denied: &[&str],
) -> redis::aio::ConnectionManager {
    use crate::services::{Origin, connect_redis};
    let cannot = |error: &dyn std::fmt::Display| -> ! {
        panic!("cannot connect to the test's Redis as a restricted user: {error}")
    };
    let mut admin = connect_redis(server.url(), Origin::Lab)
        .await
        .unwrap_or_else(|error| cannot(&error));
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("restricted")
        .arg("on")
        .arg(">restricted-secret")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg(denied)
        .query_async::<()>(&mut admin)
        .await
        .unwrap_or_else(|error| cannot(&error));
    let url = format!(
        "redis://restricted:restricted-secret@127.0.0.1:{}/",
        server.port()
    );
    connect_redis(&url, Origin::Lab)
        .await
        .unwrap_or_else(|error| cannot(&error))
}

/// A handle on database `name` of a MongoDB server that is not there
/// (nothing listens on port 1): every command on it fails within a
/// fraction of a second, the way a test makes a read or a write fail.
pub async fn unreachable_database(name: &str) -> mongodb::Database {
    mongodb::Client::with_uri_str(
        "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
    )
    .await
    .expect("the address is a valid MongoDB URI")
    .database(name)
}

/// Runs `call` on a handle on database `name` of a MongoDB that is not
/// there ([`unreachable_database`]), on a task of its own, and gives its
/// answer. If it panics, the test fails saying that `function` must pass
/// the driver's error on rather than unwrap it.
pub async fn with_mongodb_down<T, Fut>(
    name: &str,
    function: &str,
    call: impl FnOnce(mongodb::Database) -> Fut,
) -> T
where
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let down = unreachable_database(name).await;
    tokio::spawn(call(down)).await.unwrap_or_else(|_| {
        panic!(
            "{function} panicked with MongoDB unreachable: a failed query is an error to return \
             with `?`, not one to unwrap"
        )
    })
}

/// An embedded MongoDB server of the test's own, in a folder that outlives
/// it, so the test can kill it (`kill -9`, [`ManagedServer::pid`]) and start
/// another on the same store with [`restart_mongodb`] to see what survived.
/// `None` when `MONGODB_URI` names the server: the lab does not kill a
/// server it did not start.
///
/// [`ManagedServer::pid`]: crate::services::ManagedServer::pid
pub async fn killable_mongodb() -> Option<(crate::services::ManagedServer, std::path::PathBuf)> {
    let config = Config::from_env().expect("the configuration is valid");
    if config.mongodb_uri.is_some() {
        return None;
    }
    let dir = test_dir(&config, &format!("{}-killable-mongodb", unique_name()));
    Some((restart_mongodb(&dir).await, dir))
}

/// Starts the embedded MongoDB server on the store in `dir`, as the lab
/// does (every commit flushed before it is acknowledged).
pub async fn restart_mongodb(dir: &std::path::Path) -> crate::services::ManagedServer {
    start_mongodb(dir, None).await
}

/// [`restart_mongodb`] on `port`, where clients of the killed server will
/// look for it again.
pub async fn restart_mongodb_on(
    dir: &std::path::Path,
    port: u16,
) -> crate::services::ManagedServer {
    start_mongodb(dir, Some(port)).await
}

async fn start_mongodb(dir: &std::path::Path, port: Option<u16>) -> crate::services::ManagedServer {
    let started = async {
        let config = Config::from_env()?;
        let program = harness_program(&config, crate::services::Tool::Secantus)?;
        let options = crate::services::MongoOptions {
            port,
            dir: dir.to_owned(),
            cache_size: "128M",
            lifetime: crate::services::Lifetime::Tied,
            sync_on_commit: true,
            credentials: Some(harness_credentials()),
        };
        Ok::<_, HarnessError>(crate::services::mongo_server::start(&program, &options).await?)
    };
    started
        .await
        .unwrap_or_else(|error| panic!("cannot start a MongoDB for the test: {error}"))
}

/// Makes `keys` unique in `collection` (a unique index, created if missing):
/// a later write that repeats their values is refused with a duplicate-key
/// error, the usual way a test makes MongoDB refuse a write. Panics if the
/// index cannot be made.
pub async fn unique_index<T: Send + Sync>(
    collection: &mongodb::Collection<T>,
    keys: bson::Document,
) {
    let model = mongodb::IndexModel::builder()
        .keys(keys)
        .options(
            mongodb::options::IndexOptions::builder()
                .unique(true)
                .build(),
        )
        .build();
    collection
        .create_index(model)
        .await
        .unwrap_or_else(|error| panic!("cannot create a unique index for the test: {error}"));
}
