//! Running the real `redis-server`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::clients;
use super::error::ServiceError;
use super::launcher::{self, ManagedServer, ServerPlan};
use super::process::Lifetime;

/// How a Redis server is started.
#[derive(Clone)]
pub struct RedisOptions {
    /// The port to use, or `None` for any free one.
    pub port: Option<u16>,
    /// The folder for its data and log.
    pub dir: PathBuf,
    /// Keep data across restarts (append-only file plus snapshots). `lab up`
    /// turns this on; tests leave it off, since their data is thrown away.
    pub persistent: bool,
    /// Whether it outlives this process.
    pub lifetime: Lifetime,
    /// The password every client must give (`requirepass`), carried in the
    /// URL as `redis://default:PASSWORD@127.0.0.1:PORT/`. It goes to the server in
    /// a configuration file only its owner can read, never on the command
    /// line, which every user of the machine can see in `ps`.
    pub password: Option<String>,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("persistent", &self.persistent)
            .field("lifetime", &self.lifetime)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

/// Starts `redis-server` (at `program`) and waits until it answers PING.
pub async fn start(program: &Path, options: &RedisOptions) -> Result<ManagedServer, ServiceError> {
    start_node(program, options, None).await
}

/// What makes a server a node of a Redis Cluster.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClusterNodeSettings {
    /// The port of the cluster bus (node-to-node traffic), or `None` for a
    /// free one chosen with each attempt to start. Redis's default, the
    /// client port plus 10000, may be taken or out of range when ports are
    /// chosen freely, so a port is always given.
    pub bus_port: Option<u16>,
    /// How long a node may be unreachable before it is failed over.
    pub node_timeout: Duration,
}

/// Starts `redis-server` as a plain server or, with `cluster`, as a node of
/// a cluster (not yet joined to any), and waits until it answers PING.
pub(super) async fn start_node(
    program: &Path,
    options: &RedisOptions,
    cluster: Option<ClusterNodeSettings>,
) -> Result<ManagedServer, ServiceError> {
    let plan = ServerPlan {
        service: "Redis",
        program: program.to_owned(),
        port: options.port,
        dir: options.dir.clone(),
        log_file: options.dir.join("redis.log"),
        lifetime: options.lifetime,
        startup_timeout: Duration::from_secs(20),
        env: Vec::new(),
    };
    let dir = options.dir.clone();
    let persistent = options.persistent;
    let settings = match &options.password {
        Some(password) => {
            let path = options.dir.join("auth.conf");
            // Quoted, so a password never reads as a second directive.
            let mut line = format!("requirepass \"{password}\"\n");
            if cluster.is_some() {
                // A replica gives the same password to its master.
                line.push_str(&format!("masterauth \"{password}\"\n"));
            }
            super::secret::write_private(&path, line.as_bytes()).map_err(|source| {
                ServiceError::Io {
                    context: format!("cannot write {}", path.display()),
                    source,
                }
            })?;
            Some(path)
        }
        None => None,
    };
    let credentials = options
        .password
        .as_ref()
        // The user is named: `redis-cli -u` (7.0) sends no AUTH for a URL
        // with an empty user name, while every client takes `default`.
        .map(|password| format!("default:{password}@"))
        .unwrap_or_default();
    launcher::launch(
        &plan,
        move |port| {
            let mut args = arguments(port, &dir, persistent, settings.as_deref());
            args.extend(
                cluster
                    .iter()
                    .flat_map(|settings| cluster_arguments(port, settings)),
            );
            args
        },
        move |port| format!("redis://{credentials}127.0.0.1:{port}/"),
        async |url| clients::redis_answers(url).await,
    )
    .await
}

/// The command line: the settings file if any (it must come first), loopback
/// only, in the foreground (we supervise it), logging to standard output
/// (which goes to the log file).
fn arguments(port: u16, dir: &Path, persistent: bool, settings: Option<&Path>) -> Vec<OsString> {
    let mut args: Vec<OsString> = settings.map(OsString::from).into_iter().collect();
    args.extend::<[OsString; 10]>([
        "--port".into(),
        port.to_string().into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--dir".into(),
        dir.into(),
        "--daemonize".into(),
        "no".into(),
        "--logfile".into(),
        "".into(),
    ]);
    let persistence: &[&str] = if persistent {
        // The append-only file loses at most a second of writes if the
        // machine crashes; snapshots keep restarts fast.
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "300 1 60 1000",
        ]
    } else {
        &["--appendonly", "no", "--save", ""]
    };
    args.extend(persistence.iter().map(OsString::from));
    args
}

/// The command-line settings of a cluster node; its node table lives in its
/// own folder beside its data.
fn cluster_arguments(port: u16, settings: &ClusterNodeSettings) -> Vec<OsString> {
    // A bus port that turns out to be taken fails the start like a taken
    // client port, and the launcher tries again with fresh ones.
    let bus_port = settings
        .bus_port
        .or_else(|| super::process::free_port().ok())
        .unwrap_or(port.wrapping_add(10000));
    [
        "--cluster-enabled".to_owned(),
        "yes".to_owned(),
        "--cluster-config-file".to_owned(),
        "nodes.conf".to_owned(),
        "--cluster-port".to_owned(),
        bus_port.to_string(),
        "--cluster-node-timeout".to_owned(),
        settings.node_timeout.as_millis().to_string(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}
