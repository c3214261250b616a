//! `lab up`'s servers: what is already running is kept, what is missing is
//! started (`servers.rs`) and everything is recorded in the state
//! file, then the standard data set is loaded into an empty database.

use std::time::Duration;

use super::lock::lock;
use super::servers::{start_mongodb, start_redis, start_redis_cluster};
use crate::control::error::LabError;
use crate::control::secrets::Secrets;
use crate::control::state::{LabState, ServiceRecord};
use lab::config::Config;
use lab::dataset::{self, Existing, SeedProgress, SeedReport, SeedSpec};
use lab::services::process;
use lab::services::{ManagedServer, Origin, Toolbox, connect_mongodb, connect_redis_target};

/// What `lab up` did.
#[derive(Debug)]
pub enum UpOutcome {
    /// Redis and MongoDB were already running and were kept as they were
    /// (the API, the worker and Jupyter are seen to after this).
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

/// How an error names one kind of Redis or the other.
fn redis_kind(cluster: bool) -> &'static str {
    if cluster {
        "a Redis Cluster"
    } else {
        "one Redis server"
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

/// The record of a server given by URL, which the lab never stops.
fn external(url: &str, program: &str) -> ServiceRecord {
    ServiceRecord {
        url: url.to_owned(),
        pid: None,
        program: program.to_owned(),
        port: None,
        log: None,
    }
}
