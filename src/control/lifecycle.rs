//! `lab up`, `lab down` and `lab status`.
//!
//! `up` starts what is not running, records it in the state file, and loads
//! the standard data set into an empty database; `down` stops what `up`
//! started; `status` says what runs. Servers given by `REDIS_URL` or
//! `MONGODB_URI` are used, never started or stopped.

use std::fs::File;
use std::time::Duration;

use super::error::LabError;
use super::secrets::Secrets;
use super::state::{LabState, ServiceRecord};
use crate::config::Config;
use crate::dataset::{self, Existing, SeedProgress, SeedReport, SeedSpec};
use crate::services::mongo_server::{self, MongoOptions};
use crate::services::process::{self, program_name};
use crate::services::redis_cluster::{self, ClusterOptions, ManagedCluster};
use crate::services::redis_server::{self, RedisOptions};
use crate::services::{
    Lifetime, ManagedServer, Origin, Tool, Toolbox, connect_mongodb, connect_redis_target,
};

/// What `lab up` did.
#[derive(Debug)]
pub enum UpOutcome {
    /// Everything was already running; nothing changed.
    AlreadyRunning(LabState),
    /// Services were started (or reached) and recorded.
    Started {
        /// The recorded state.
        state: LabState,
        /// The data set loaded into an empty database, if one was.
        seeded: Option<SeedReport>,
    },
}

impl UpOutcome {
    /// The lab as recorded, whether it was started now or already ran.
    pub fn state(&self) -> &LabState {
        match self {
            UpOutcome::AlreadyRunning(state) | UpOutcome::Started { state, .. } => state,
        }
    }
}

/// Options of `lab up`.
#[derive(Debug, Clone, Copy)]
pub struct UpOptions {
    /// Load the standard data set when the database is empty.
    pub seed: bool,
}

/// Brings the lab up. `say` hears progress messages; `progress` hears seeding.
///
/// Dropping the future before it completes (on Ctrl-C, say) stops the
/// servers it started and had not yet recorded in the state file; a seeding
/// run it had begun is finished by the next `up`.
pub async fn up(
    config: &Config,
    options: UpOptions,
    say: &dyn Fn(&str),
    progress: &mut dyn FnMut(SeedProgress),
) -> Result<UpOutcome, LabError> {
    let _lock = lock(config)?;
    let config = &without_own_urls(config);
    let previous = LabState::load(config)?.or_else(|| LabState::load_last(config));
    if let Some(state) = &previous
        && state.redis_is_alive()
        && state.mongodb.is_alive()
        && state_matches_config(state, config)
    {
        return Ok(UpOutcome::AlreadyRunning(state.clone()));
    }
    if let Some(state) = &previous
        && config.redis_url.is_none()
        && state.redis.is_managed()
        && state.redis_is_alive()
        && state.redis_is_cluster() != config.redis_cluster
    {
        return Err(LabError::RedisKindChanged {
            running: redis_kind(state.redis_is_cluster()),
            asked: redis_kind(config.redis_cluster),
        });
    }
    let toolbox = Toolbox::new(config);
    let secrets = Secrets::load_or_create(config)?;
    // Start (or reach) Redis, then MongoDB. A server started here is a
    // `ManagedServer`, which stops when dropped: if anything fails before it
    // is recorded, the early return stops it, so `up` either brings the lab
    // up or leaves things as they were.
    let keep =
        |record: Option<&ServiceRecord>| record.filter(|r| r.is_managed() && r.is_alive()).cloned();
    let kept_redis = previous
        .as_ref()
        .filter(|state| state.redis.is_managed() && state.redis_is_alive())
        .map(|state| (state.redis.clone(), state.redis_nodes.clone()));
    let ((redis, redis_nodes), started_redis) = match (&config.redis_url, kept_redis) {
        (Some(url), _) => {
            connect_redis_target(url, Origin::Variable("REDIS_URL")).await?;
            ((external(url, "redis-server"), Vec::new()), None)
        }
        (None, Some(kept)) => (kept, None),
        (None, None) if config.redis_cluster => {
            start_redis_cluster(config, &toolbox, previous.as_ref(), &secrets, say).await?
        }
        (None, None) => start_redis(config, &toolbox, previous.as_ref(), &secrets, say).await?,
    };
    // An error from here on drops `started_redis`, which stops it.
    let (mongodb, started_mongodb) = match (
        &config.mongodb_uri,
        keep(previous.as_ref().map(|s| &s.mongodb)),
    ) {
        (Some(uri), _) => {
            connect_mongodb(uri, Origin::Variable("MONGODB_URI")).await?;
            (external(uri, "mongod"), None)
        }
        (None, Some(record)) => (record, None),
        (None, None) => start_mongodb(config, &toolbox, previous.as_ref(), &secrets, say).await?,
    };
    let state = LabState {
        redis,
        redis_nodes,
        mongodb,
        database: config.database.clone(),
        // A Jupyter Lab of an earlier `up` that still runs is kept.
        notebooks: previous
            .as_ref()
            .and_then(|state| state.notebooks.clone())
            .filter(ServiceRecord::is_alive),
        // The same for the billing API and the worker.
        api: previous
            .as_ref()
            .and_then(|state| state.api.clone())
            .filter(ServiceRecord::is_alive),
        worker: previous
            .as_ref()
            .and_then(|state| state.worker.clone())
            .filter(ServiceRecord::is_alive),
    };
    // A server the lab started that a URL now replaces would otherwise run
    // on, unrecorded. It is stopped only now that its replacement answered.
    if let Some(previous) = &previous {
        for (old, new) in [
            (&previous.redis, &state.redis),
            (&previous.mongodb, &state.mongodb),
        ] {
            if let (Some(pid), None) = (old.pid, new.pid) {
                process::terminate(pid, &old.program, Duration::from_secs(30));
            }
        }
        if state.redis.pid.is_none() {
            for node in previous.redis_nodes.iter() {
                if let Some(pid) = node.pid {
                    process::terminate(pid, &node.program, Duration::from_secs(30));
                }
            }
        }
    }
    state.save(config)?;
    // From here on the servers belong to the state file, not to this process.
    if let Some(started) = started_redis {
        started.detach();
    }
    started_mongodb.map(ManagedServer::detach);

    let seeded = if options.seed {
        let client = connect_mongodb(&state.mongodb.url, Origin::Lab).await?;
        let database = client.database(&state.database);
        if dataset::loader::needs_seeding(&database).await? {
            say("loading the standard data set (1,000 customers, 20,000 invoices)");
            Some(dataset::seed(&database, SeedSpec::standard(), Existing::Refuse, progress).await?)
        } else {
            None
        }
    } else {
        None
    };
    Ok(UpOutcome::Started { state, seeded })
}

/// A Redis `up` started and has not yet handed to the state file: dropped,
/// it stops.
enum StartedRedis {
    Server(ManagedServer),
    Cluster(ManagedCluster),
}

impl StartedRedis {
    /// Leaves it running, recorded in the state file.
    fn detach(self) {
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
type RedisStart = ((ServiceRecord, Vec<ServiceRecord>), Option<StartedRedis>);

fn redis_kind(cluster: bool) -> &'static str {
    if cluster {
        "a Redis Cluster"
    } else {
        "one Redis server"
    }
}

async fn start_redis(
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
async fn start_redis_cluster(
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
        .ok_or(crate::services::ServiceError::ClusterNotFormed {
            reason: "no node was started".into(),
        })?;
    let others = records.collect();
    Ok(((first, others), Some(StartedRedis::Cluster(cluster))))
}

async fn start_mongodb(
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

/// What `lab down` stopped.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Services that were stopped, with whether they had to be killed.
    pub stopped: Vec<(&'static str, bool)>,
    /// Services given by URL, left running.
    pub left_alone: Vec<&'static str>,
}

/// Stops the services `lab up` started and removes the state file. Data stays.
pub fn down(config: &Config) -> Result<Option<DownReport>, LabError> {
    let _lock = lock(config)?;
    let Some(state) = LabState::load(config)? else {
        return Ok(None);
    };
    let mut report = DownReport::default();
    for (name, record) in state.services() {
        match record.pid {
            // Redis writes its append-only file and the MongoDB server
            // checkpoints WiredTiger on SIGTERM; both get time to finish.
            Some(pid) => report.stopped.push((
                name,
                process::terminate(pid, &record.program, Duration::from_secs(30)),
            )),
            None => report.left_alone.push(name),
        }
    }
    LabState::retire(config)?;
    Ok(Some(report))
}

/// Undoes a failed `lab up`: stops every process recorded now that `before`
/// (the state when that `up` began; `None` when the lab was down) did not
/// have running, and records `before` again. Servers given by URL are left
/// alone. So an `up` whose API, worker or Jupyter step fails leaves the lab
/// as it found it, not half started.
pub fn roll_back(config: &Config, before: Option<&LabState>) -> Result<(), LabError> {
    let _lock = lock(config)?;
    let Some(now) = LabState::load(config)? else {
        return Ok(());
    };
    let was_running = |name: &str, record: &ServiceRecord| {
        before.is_some_and(|before| {
            before
                .services()
                .iter()
                .any(|(n, r)| *n == name && r.pid == record.pid && r.is_alive())
        })
    };
    for (name, record) in now.services() {
        if let Some(pid) = record.pid
            && !was_running(name, record)
        {
            process::terminate(pid, &record.program, Duration::from_secs(30));
        }
    }
    let alive = |record: &Option<ServiceRecord>| record.clone().filter(ServiceRecord::is_alive);
    // A server of `before` that had died was replaced and the replacement is
    // stopped above; one that still runs stays recorded, so `lab status` and
    // `lab down` keep finding it.
    match before {
        Some(before) => LabState {
            notebooks: alive(&before.notebooks),
            api: alive(&before.api),
            worker: alive(&before.worker),
            ..before.clone()
        }
        .save(config)?,
        None => LabState::retire(config)?,
    }
    Ok(())
}

/// How one service is doing.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// "Redis" or "MongoDB".
    pub name: &'static str,
    /// Its URL.
    pub url: String,
    /// Its pid, when the lab started it.
    pub pid: Option<u32>,
    /// Whether it answers requests right now.
    pub answering: bool,
}

impl std::fmt::Debug for ServiceStatus {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceStatus")
            .field("name", &self.name)
            .field("url", &crate::services::redact(&self.url))
            .field("pid", &self.pid)
            .field("answering", &self.answering)
            .finish()
    }
}

/// The status of each recorded service, or `None` when the lab is not up.
pub async fn status(config: &Config) -> Result<Option<Vec<ServiceStatus>>, LabError> {
    let Some(state) = LabState::load(config)? else {
        return Ok(None);
    };
    // A cluster answers as long as its slots are served, whichever nodes run.
    let redis_ok = state.redis_is_alive()
        && connect_redis_target(&state.redis.url, Origin::Lab)
            .await
            .is_ok();
    let mongo_ok = state.mongodb.is_alive()
        && connect_mongodb(&state.mongodb.url, Origin::Lab)
            .await
            .is_ok();
    let row = |name, record: &ServiceRecord, answering| ServiceStatus {
        name,
        url: record.url.clone(),
        pid: record.pid,
        answering,
    };
    let mut rows = vec![
        row("Redis", &state.redis, redis_ok),
        row("MongoDB", &state.mongodb, mongo_ok),
    ];
    // The first node is recorded as the cluster itself; it gets a row too.
    let first_node = state
        .redis_is_cluster()
        .then(|| ServiceRecord {
            url: format!(
                "redis://127.0.0.1:{}/",
                state.redis.port.unwrap_or_default()
            ),
            ..state.redis.clone()
        })
        .filter(|first| first.is_managed());
    for node in first_node.iter().chain(&state.redis_nodes) {
        let answering = match node.port {
            Some(port) => node.is_alive() && process::port_accepts(port).await,
            None => false,
        };
        rows.push(row("Redis node", node, answering));
    }
    for (name, helper) in [
        ("Jupyter", &state.notebooks),
        ("API", &state.api),
        ("Worker", &state.worker),
    ] {
        if let Some(record) = helper {
            let answering = match record.port {
                Some(port) => record.is_alive() && process::port_accepts(port).await,
                None => false,
            };
            rows.push(row(name, record, answering));
        }
    }
    Ok(Some(rows))
}

/// Keeps two `lab` commands from starting or stopping services at once.
pub(super) fn lock(config: &Config) -> Result<File, LabError> {
    let path = config.home.join("lab.lock");
    let file = std::fs::create_dir_all(&config.home)
        .and_then(|()| File::create(&path))
        .map_err(|source| LabError::Io {
            context: format!("cannot create {}", path.display()),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(LabError::Busy),
    }
}

/// `config` without URLs that name the lab's own servers (see [`LabState::owns_url`]).
fn without_own_urls(config: &Config) -> Config {
    let own = |url: &Option<String>| {
        url.as_deref()
            .is_some_and(|url| LabState::owns_url(config, url))
    };
    Config {
        redis_url: config.redis_url.clone().filter(|_| !own(&config.redis_url)),
        mongodb_uri: config
            .mongodb_uri
            .clone()
            .filter(|_| !own(&config.mongodb_uri)),
        ..config.clone()
    }
}

/// A recorded service that `up` would replace if the configuration changed:
/// a URL set (or unset) since the lab was started.
fn state_matches_config(state: &LabState, config: &Config) -> bool {
    let same = |record: &ServiceRecord, url: &Option<String>| match url {
        Some(url) => !record.is_managed() && &record.url == url,
        None => record.is_managed(),
    };
    same(&state.redis, &config.redis_url)
        && (config.redis_url.is_some() || state.redis_is_cluster() == config.redis_cluster)
        && same(&state.mongodb, &config.mongodb_uri)
        && state.database == config.database
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

fn external(url: &str, program: &str) -> ServiceRecord {
    ServiceRecord {
        url: url.to_owned(),
        pid: None,
        program: program.to_owned(),
        port: None,
        log: None,
    }
}
