//! The one place that builds and runs the lab's long-running programs: the
//! billing API ([`Application`], what `lab serve` runs) and a job worker
//! ([`WorkerProcess`], what `lab worker` runs). Each connects to Redis and
//! MongoDB, prepares what it relies on, binds its port (0 for any free one,
//! the real one reported) and runs until a shutdown signal. The binary only
//! parses arguments and calls these.

use tokio::net::TcpListener;

use crate::api::{ApiState, DATABASE_WAIT, guard::Guard};
use crate::billing::collections;
use crate::config::Config;
use crate::jobs::ShardCount;
use crate::jobs::webhooks::WebhookPolicy;
use crate::jobs::worker::{self, WorkerOptions, WorkerReport};
use crate::jobs::{Changes, JobQueue};
use crate::running::{LocateError, SecretsError};
use crate::services::{
    RedisConnection, ServiceError, connect_mongodb_with, connect_redis_target,
    connect_redis_target_or_later, is_not_ready,
};

/// Why the API or a worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// No Redis or MongoDB was named and no lab is running, or the lab's
    /// state file is unreadable.
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// Redis or MongoDB could not be reached, or refused the connection
    /// (with [`RedisAtStart::MayWait`], only a refusal stops the start:
    /// a Redis that cannot be reached yet does not).
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The lab's secrets file (the API key) is unreadable.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The port is taken or not ours to use.
    #[error("cannot listen on 127.0.0.1:{port} ({source}); {hint}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// How to ask for another.
        hint: &'static str,
        /// The system's reason.
        source: std::io::Error,
    },
    /// MongoDB refused to create an index the API relies on.
    #[error("cannot create the indexes the API relies on: {0}")]
    Indexes(mongodb::error::Error),
    /// The pending cache invalidations could not be read back.
    #[error("cannot read the cache's pending invalidations from MongoDB: {0}")]
    Outbox(mongodb::error::Error),
    /// Redis refused a subscription (job changes, or ready jobs).
    #[error("cannot subscribe to {what} in Redis: {source}")]
    Subscribe {
        /// What the subscription is for.
        what: &'static str,
        /// Redis's answer.
        source: redis::RedisError,
    },
    /// The server stopped with an error.
    #[error("the {what} stopped: {source}")]
    Stopped {
        /// Which server.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// The billing API, connected and bound, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: ApiState,
    port: u16,
}

impl Application {
    /// Connects to the lab's services (or `REDIS_URL` / `MONGODB_URI`),
    /// makes sure the indexes exist, reads back pending cache
    /// invalidations, subscribes to job changes, and binds `port` on
    /// 127.0.0.1 (0 for any free port). Writes need `LAB_API_KEY`, or the
    /// key `lab up` made.
    pub async fn build(config: &Config, port: u16) -> Result<Application, StartupError> {
        let state = api_state(config).await?;
        let listener = bind(port, "pass --port, or set LAB_API_PORT, to use another").await?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(Application {
            listener,
            state,
            port,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What its handlers share.
    pub fn state(&self) -> &ApiState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests under way.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        crate::api::serve(self.listener, self.state, shutdown)
            .await
            .map_err(|source| StartupError::Stopped {
                what: "API",
                source,
            })
    }
}

/// Redis (one server or a cluster) and the billing database, as the API,
/// a worker and `lab jobs` reach them, with the job queue on that Redis.
#[derive(Clone)]
pub struct Services {
    /// Redis: one server, or the cluster `lab up --redis-cluster` started.
    /// Connected and answering, except with [`RedisAtStart::MayWait`] when
    /// a single server could not be reached yet: the connection is then
    /// made on first use, and each command fails until Redis answers.
    pub redis: RedisConnection,
    /// The billing database.
    pub db: mongodb::Database,
    /// The Redis URL (`redis-cluster://...` for a cluster), to subscribe with.
    pub redis_url: String,
    /// The job queue, in the shards [`job_shards`] gives.
    pub jobs: JobQueue,
}

impl Services {
    /// Connects to the lab `config` describes.
    pub async fn connect(config: &Config) -> Result<Services, StartupError> {
        Self::connect_with(config, RedisAtStart::Required, |_| {}).await
    }

    /// Like [`Services::connect`], with MongoDB's client options adjusted
    /// by `configure`, and Redis required at once or not (`redis`).
    pub async fn connect_with(
        config: &Config,
        redis: RedisAtStart,
        configure: impl FnOnce(&mut mongodb::options::ClientOptions),
    ) -> Result<Services, StartupError> {
        let (redis_url, redis_origin) = crate::running::redis_location(config)?;
        let (mongodb_uri, mongodb_origin) = crate::running::mongodb_location(config)?;
        let reach_redis = async {
            match redis {
                RedisAtStart::Required => connect_redis_target(&redis_url, redis_origin).await,
                RedisAtStart::MayWait => {
                    let (connection, not_yet) =
                        connect_redis_target_or_later(&redis_url, redis_origin).await?;
                    if let Some(why) = not_yet {
                        tracing::warn!(
                            "starting without Redis: customers are read from MongoDB without \
                             the cache, and the job routes answer 503 until Redis answers \
                             ({why})"
                        );
                        tokio::spawn(watch_for_redis(connection.clone()));
                    }
                    Ok(connection)
                }
            }
        };
        let (redis, client) = tokio::try_join!(
            reach_redis,
            connect_mongodb_with(&mongodb_uri, mongodb_origin, configure),
        )?;
        let jobs = JobQueue::new(redis.clone(), crate::jobs::PREFIX)
            .with_shards(job_shards(config, &redis))
            .with_webhook_policy(WebhookPolicy::from_config(config));
        Ok(Services {
            db: client.database(&config.database),
            redis,
            redis_url,
            jobs,
        })
    }
}

/// How often [`watch_for_redis`] asks a Redis that did not answer at start.
const REDIS_WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks `redis` (a connection made before Redis answered) every
/// [`REDIS_WATCH_EVERY`] until it answers, and says so in the log: that the
/// cache and the job routes are back, or that Redis now refuses the
/// connection (a wrong password, say), which no retry mends: the process
/// must be restarted with the right settings. Ends with that news.
async fn watch_for_redis(mut redis: RedisConnection) {
    loop {
        tokio::time::sleep(REDIS_WATCH_EVERY).await;
        match redis::cmd("PING").query_async::<String>(&mut redis).await {
            Ok(_) => {
                tracing::info!("Redis answers now: the cache and the job routes are back");
                return;
            }
            Err(error) if is_not_ready(&error) => continue,
            Err(error) => {
                tracing::error!(
                    "Redis answers now but refuses this process ({error}): the cache and the \
                     job routes stay unavailable until the API is restarted with the right \
                     REDIS_URL"
                );
                return;
            }
        }
    }
}

/// Whether a process may start before Redis answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisAtStart {
    /// Redis must answer at start (a worker, `lab jobs`: nothing to do
    /// without it).
    Required,
    /// A single Redis that cannot be reached yet is tried again on each use
    /// (the API: customers and invoices live in MongoDB, and the routes
    /// that need Redis answer 503 until it is back).
    MayWait,
}

/// How many shards the job queue has: `LAB_JOB_SHARDS`, else one on a
/// single Redis and six on a cluster (two per master of the lab's
/// three-master cluster, so every master holds ready jobs). Every process
/// of a lab reads the same settings, so they agree.
pub fn job_shards(config: &Config, redis: &RedisConnection) -> ShardCount {
    config.job_shards.unwrap_or_else(|| {
        if redis.is_cluster() {
            ShardCount::new(CLUSTER_SHARDS).unwrap_or(ShardCount::ONE)
        } else {
            ShardCount::ONE
        }
    })
}

/// The job queue's shards on a cluster unless `LAB_JOB_SHARDS` says otherwise.
const CLUSTER_SHARDS: usize = 6;

/// The API's shared state, connected as [`Application::build`] connects
/// it, without a socket (for tests that call the router directly).
pub async fn api_state(config: &Config) -> Result<ApiState, StartupError> {
    let key = crate::running::secrets::api_key(config)?;
    // The API's MongoDB client gives up on an unreachable server after
    // DATABASE_WAIT, so an outage answers 503 at once rather than after the
    // driver's usual 30 s (or the lab's 5 s for a first contact).
    let services = Services::connect_with(config, RedisAtStart::MayWait, |options| {
        options.server_selection_timeout = Some(DATABASE_WAIT)
    })
    .await?;
    let db = services.db;
    collections::ensure_indexes(&db)
        .await
        .map_err(StartupError::Indexes)?;
    crate::jobs::results::ensure_indexes(&db)
        .await
        .map_err(StartupError::Indexes)?;
    let changes = Changes::listen(&services.redis_url, crate::jobs::PREFIX).map_err(|source| {
        StartupError::Subscribe {
            what: "job changes",
            source,
        }
    })?;
    let state = ApiState::new(db, services.redis);
    // Invalidations an earlier API process left unapplied (Redis was down):
    // those customers are not served from the cache until Redis has
    // applied them.
    state
        .cache
        .restore_pending()
        .await
        .map_err(StartupError::Outbox)?;
    Ok(state
        .with_jobs(services.jobs)
        .with_changes(changes)
        .with_drills(config.job_drills)
        .with_guard(Guard::new(key, &config.api_hosts)))
}

/// A job worker, connected, with its status port bound if asked for.
pub struct WorkerProcess {
    lab: Services,
    queue: JobQueue,
    options: WorkerOptions,
    status: Option<TcpListener>,
    ready: Changes,
    /// What the status port asks of a request.
    guard: Guard,
}

impl WorkerProcess {
    /// Connects to the lab's services and subscribes to ready jobs; with
    /// `status_port`, binds it (0 for any free port): `GET /` there answers
    /// with the worker's settings and the queue's counts, which `lab up`
    /// waits for and `lab status` asks.
    pub async fn build(
        config: &Config,
        options: WorkerOptions,
        status_port: Option<u16>,
    ) -> Result<WorkerProcess, StartupError> {
        let lab = Services::connect(config).await?;
        let queue = lab.jobs.clone();
        let status = match status_port {
            Some(port) => Some(bind(port, "pass another --status-port").await?),
            None => None,
        };
        let ready =
            Changes::listen_ready(&lab.redis_url, crate::jobs::PREFIX).map_err(|source| {
                StartupError::Subscribe {
                    what: "queued jobs",
                    source,
                }
            })?;
        Ok(WorkerProcess {
            lab,
            queue,
            options,
            status,
            ready,
            guard: Guard::hosts_only(&config.api_hosts),
        })
    }

    /// The status port, when one was asked for.
    pub fn status_port(&self) -> Option<u16> {
        self.status
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map(|address| address.port())
    }

    /// Runs jobs until `shutdown` completes, then hands the running ones back.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> WorkerReport {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        if let Some(listener) = self.status {
            let status = status_router(self.queue.clone(), self.options, self.guard);
            let mut stopped = stopping.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                crate::api::connections::serve_router(listener, status, stopped).await
            });
        }
        worker::run_woken(
            self.queue,
            self.lab.db.clone(),
            self.options,
            stopping,
            self.ready,
        )
        .await
    }
}

/// `GET /` of a worker's status port; other routes and methods get the
/// API's JSON 404 and 405, and a request that does not name the lab's host
/// (`guard`) its 421, as the API does: a web page cannot read the worker's
/// status through a name of its own that resolves to 127.0.0.1.
fn status_router(queue: JobQueue, options: WorkerOptions, guard: Guard) -> axum::Router {
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || {
                let queue = queue.clone();
                async move {
                    axum::Json(serde_json::json!({
                        "pid": std::process::id(),
                        "concurrency": options.concurrency,
                        "lease_seconds": options.lease.as_secs(),
                        "drills": options.drills,
                        "queue": queue.stats().await.ok(),
                    }))
                }
            }),
        )
        // After the route: `method_not_allowed_fallback` applies only to
        // the routes added before it.
        .fallback(crate::api::ops::no_route)
        .method_not_allowed_fallback(crate::api::ops::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(guard),
            crate::api::guard::check,
        ))
}

async fn bind(port: u16, hint: &'static str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| StartupError::Bind { port, hint, source })
}
