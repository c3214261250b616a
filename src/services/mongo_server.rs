//! Running the embedded MongoDB-compatible server, `secantusd-rs`.
//!
//! It speaks MongoDB's wire protocol over WiredTiger, so the official driver
//! (and pymongo, and `mongosh`) talk to it as to a single `mongod`: one node,
//! on 127.0.0.1 only, and with [`MongoOptions::credentials`] a user and
//! password (SCRAM-SHA-256) required of every client.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::doc;

use super::clients;
use super::error::ServiceError;
use super::launcher::{self, ManagedServer, ServerPlan};
use super::process::Lifetime;

/// How the embedded MongoDB server is started.
#[derive(Debug, Clone)]
pub struct MongoOptions {
    /// The port to use, or `None` for any free one.
    pub port: Option<u16>,
    /// The folder for its WiredTiger store and log.
    pub dir: PathBuf,
    /// WiredTiger's cache, such as "512M". Tests use a small one.
    pub cache_size: &'static str,
    /// Whether it outlives this process.
    pub lifetime: Lifetime,
    /// Whether every commit is flushed to disk before it is acknowledged
    /// (`--sync-on-commit`). Without it, WiredTiger's log is written by a
    /// background thread and a `kill -9` within about 100 ms loses writes
    /// the driver saw acknowledged, even with `j: true`. The lab and the
    /// tests turn it on; a benchmark may turn it off to measure its cost.
    pub sync_on_commit: bool,
    /// The one user every client must log in as (`--auth`), carried in the
    /// URI. Without it, anyone who reaches the port may read and write.
    pub credentials: Option<Credentials>,
}

/// A MongoDB user and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user's name (in the `admin` database).
    pub user: String,
    /// Its password: letters and digits only, so it needs no escaping in a URI.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Starts `secantusd-rs` (at `program`) and waits until it answers `ping`.
pub async fn start(program: &Path, options: &MongoOptions) -> Result<ManagedServer, ServiceError> {
    let plan = ServerPlan {
        service: "MongoDB",
        program: program.to_owned(),
        port: options.port,
        dir: options.dir.clone(),
        log_file: options.dir.join("mongodb.log"),
        lifetime: options.lifetime,
        startup_timeout: Duration::from_secs(60),
        env: Vec::new(),
    };
    let store = options.dir.join("store");
    let cache_size = options.cache_size;
    let sync_on_commit = options.sync_on_commit;
    let auth = options.credentials.is_some();
    // An empty settings file of our own, passed with --config, stops the
    // server from picking up a `secantusd.toml` from the home folder.
    let settings = options.dir.join("secantusd.toml");
    std::fs::create_dir_all(&options.dir)
        .and_then(|()| std::fs::write(&settings, "# settings come from the command line\n"))
        .map_err(|source| ServiceError::Io {
            context: format!("cannot write {}", settings.display()),
            source,
        })?;
    // `ping` needs no login, so readiness is checked without one.
    let server = launcher::launch(
        &plan,
        move |port| arguments(port, &settings, &store, cache_size, sync_on_commit, auth),
        uri_for_port,
        async |uri| clients::mongodb_answers(uri).await,
    )
    .await?;
    match &options.credentials {
        None => Ok(server),
        Some(credentials) => {
            ensure_user(server.url(), server.port(), credentials, &options.dir).await?;
            let uri = uri_with_credentials(server.port(), credentials);
            Ok(server.with_url(uri))
        }
    }
}

/// Makes sure `credentials` name a user of the server at `uri`. On a new
/// store the first user is created without logging in (as `mongod` allows
/// from localhost while there are no users); on a store that has users, the
/// credentials must log in.
async fn ensure_user(
    uri: &str,
    port: u16,
    credentials: &Credentials,
    dir: &Path,
) -> Result<(), ServiceError> {
    let client = clients::connect_mongodb(uri, clients::Origin::Lab).await?;
    let created = client
        .database("admin")
        .run_command(doc! {
            "createUser": &credentials.user,
            "pwd": &credentials.password,
            "roles": [{ "role": "root", "db": "admin" }],
        })
        .await;
    client.shutdown().await;
    if created.is_ok() {
        return Ok(());
    }
    let with_login = uri_with_credentials(port, credentials);
    match clients::connect_mongodb(&with_login, clients::Origin::Lab).await {
        Ok(client) => {
            client.shutdown().await;
            Ok(())
        }
        Err(error) => Err(ServiceError::Credentials {
            service: "MongoDB",
            reason: error.to_string(),
            data: dir.display().to_string(),
        }),
    }
}

/// The URI of a server on `port` of 127.0.0.1, logged in as `credentials`.
pub fn uri_with_credentials(port: u16, credentials: &Credentials) -> String {
    format!(
        "mongodb://{}:{}@127.0.0.1:{port}/?directConnection=true&authSource=admin",
        credentials.user, credentials.password
    )
}

/// The URI of a server on `port` of 127.0.0.1. `directConnection` tells the
/// driver to talk to this one node rather than discover a replica set.
pub fn uri_for_port(port: u16) -> String {
    format!("mongodb://127.0.0.1:{port}/?directConnection=true")
}

fn arguments(
    port: u16,
    settings: &Path,
    store: &Path,
    cache_size: &str,
    sync_on_commit: bool,
    auth: bool,
) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = vec![
        "--config".into(),
        settings.into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string().into(),
        "--storage-path".into(),
        store.into(),
        // A log file is allocated in full; 16 MB keeps an empty store small.
        "--log-file-max".into(),
        "16MB".into(),
        "--cache-size".into(),
        cache_size.into(),
        "--log-level".into(),
        "WARNING".into(),
    ];
    if sync_on_commit {
        arguments.push("--sync-on-commit".into());
    }
    if auth {
        arguments.push("--auth".into());
    }
    arguments
}
