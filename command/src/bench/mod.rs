//! The measurements behind `lab bench`. Figures are printed, never asserted:
//! a timing test on a shared 2-core machine would fail at random.

pub mod api;
pub mod external;
pub mod jobs;
pub mod machine;
pub mod revenue;
pub mod rq;
pub mod seed;

use std::time::Duration;

use mongodb::Client;

use crate::control::LabError;
use lab::config::Config;
use lab::services::mongo_server::{self, MongoOptions};
use lab::services::redis_server::{self, RedisOptions};
use lab::services::{Lifetime, ManagedServer, Origin, Tool, Toolbox, connect_mongodb};

/// Latency and throughput of one phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Requests made.
    pub requests: usize,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl Phase {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn of(mut latencies: Vec<Duration>, elapsed: Duration) -> Phase {
        latencies.sort();
        let at = |fraction: f64| {
            let index = ((latencies.len() as f64 * fraction) as usize)
                .min(latencies.len().saturating_sub(1));
            latencies.get(index).copied().unwrap_or_default()
        };
        Phase {
            requests: latencies.len(),
            elapsed,
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// An I/O error of the benchmark, with what it was doing.
pub(crate) fn io(context: &'static str) -> impl Fn(std::io::Error) -> LabError {
    move |source| LabError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Any other error of the benchmark, with what it was doing.
pub(crate) fn failed<E>(context: &'static str) -> impl Fn(E) -> LabError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| LabError::Step {
        context,
        source: Box::new(error),
    }
}

/// A fresh `redis-server` of the benchmark's own (nothing saved), stopped
/// when dropped.
async fn scratch_redis(config: &Config, say: &dyn Fn(&str)) -> Result<ManagedServer, LabError> {
    say("starting a Redis for the benchmark");
    let program = Toolbox::new(config).ensure(Tool::RedisServer, say)?;
    let dir = config
        .home
        .join("bench")
        .join(format!("p{}-redis", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(redis_server::start(
        &program,
        &RedisOptions {
            port: None,
            dir,
            persistent: false,
            lifetime: Lifetime::Tied,
            password: None,
        },
    )
    .await?)
}

/// The MongoDB server a benchmark writes to: `MONGODB_URI` when set, else a
/// fresh embedded server of its own (never the lab's, whose data a
/// benchmark would disturb), stopped when this is dropped.
struct ScratchServer {
    _server: Option<ManagedServer>,
    uri: String,
    origin: Origin,
    /// What the figures were measured on, to print beside them.
    label: String,
}

impl ScratchServer {
    /// A scratch server started as `lab up` starts the lab's, every commit
    /// flushed to disk before it is acknowledged.
    async fn start(config: &Config, say: &dyn Fn(&str)) -> Result<ScratchServer, LabError> {
        Self::start_with(config, true, say).await
    }

    /// A scratch server, with or without `--sync-on-commit`; always
    /// `MONGODB_URI`'s server when that is set.
    async fn start_with(
        config: &Config,
        sync_on_commit: bool,
        say: &dyn Fn(&str),
    ) -> Result<ScratchServer, LabError> {
        if let Some(uri) = &config.mongodb_uri {
            return Ok(ScratchServer {
                _server: None,
                uri: uri.clone(),
                origin: Origin::Variable("MONGODB_URI"),
                label: lab::services::redact(uri),
            });
        }
        let program = Toolbox::new(config).ensure(Tool::Secantus, say)?;
        let dir = config
            .home
            .join("bench")
            .join(format!("p{}-mongodb-{sync_on_commit}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = MongoOptions {
            port: None,
            dir,
            cache_size: "1G",
            lifetime: Lifetime::Tied,
            sync_on_commit,
            credentials: None,
        };
        let server: ManagedServer = mongo_server::start(&program, &options).await?;
        Ok(ScratchServer {
            uri: server.url().to_owned(),
            _server: Some(server),
            origin: Origin::Lab,
            label: format!(
                "embedded secantusd-rs (fresh store, {})",
                if sync_on_commit {
                    "--sync-on-commit, as `lab up` runs it"
                } else {
                    "without --sync-on-commit"
                }
            ),
        })
    }

    async fn client(&self) -> Result<Client, LabError> {
        Ok(connect_mongodb(&self.uri, self.origin).await?)
    }
}
