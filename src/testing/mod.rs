//! The test harness: every test gets its own Redis and its own MongoDB database.
//!
//! ```no_run
//! # async fn example() {
//! let env = lab::testing::TestEnv::start_seeded().await;
//! let mut redis = env.redis().await;
//! let customers = lab::billing::collections::customers(env.database());
//! # }
//! ```
//!
//! - **Redis**: a fresh `redis-server` per test, without persistence, on a free
//!   port. Starting one takes a few milliseconds, and nothing a test does to it
//!   (FLUSHALL, CONFIG SET, a blocking command) can reach another test. With
//!   `REDIS_URL` set, each test leases one of that server's numbered databases
//!   instead and finds it empty.
//! - **MongoDB**: one embedded server per test binary (it takes a moment to
//!   start), and a database with a unique name per test. With `MONGODB_URI`
//!   set, the same unique databases are made on that server.
//!
//! Everything is torn down when the [`TestEnv`] is dropped, even when the test
//! fails; servers are tied to the test process, so a crashed run leaves none
//! behind.

#[cfg(feature = "api")]
pub mod http;
pub mod inspect;
mod mongo;
pub mod mongo_log;
mod redis_lease;
pub mod redis_log;

use std::sync::atomic::{AtomicU64, Ordering};

use mongodb::Database;
use redis::aio::ConnectionManager;

use crate::config::Config;
use crate::dataset::{self, Existing, SeedSpec};
use crate::services::{Origin, RedisConnection, ServiceError, connect_redis, connect_redis_target};

pub use mongo::MongoLease;
pub use mongo_log::{MongoCommand, MongoLog, MongoRecording};
pub use redis_lease::RedisLease;
pub use redis_log::{RedisCommand, RedisLog, RedisRecording};

/// The small fixed data set of [`TestEnv::start_seeded`]: enough for every
/// query shape, small enough to load in a blink.
pub const TEST_DATA: SeedSpec = SeedSpec {
    customers: 25,
    invoices: 300,
    seed: dataset::DEFAULT_SEED,
};

/// Why a test environment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A server could not be started or reached.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The test data could not be loaded.
    #[error(transparent)]
    Seed(#[from] dataset::SeedError),
    /// A database request failed.
    #[error("{action}: {source}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        source: mongodb::error::Error,
    },
}

/// Which kind of Redis a test gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One server (or a leased database of `REDIS_URL`).
    Single,
    /// A Redis Cluster of the test's own: `masters` masters sharing the
    /// slots, each followed by `replicas` replicas.
    Cluster {
        /// How many masters.
        masters: usize,
        /// How many replicas per master.
        replicas: usize,
    },
}

impl Topology {
    /// The cluster the job and cache suites also run on: three masters, no
    /// replicas (fast to form; the failover tests ask for replicas).
    pub const CLUSTER: Topology = Topology::Cluster {
        masters: 3,
        replicas: 0,
    };
}

/// Writes each test twice, as `NAME::single_redis` and `NAME::cluster`: the
/// body gets the [`Topology`] to start its environment on. A test may begin
/// with `[runtime(flavor = "multi_thread", worker_threads = 2)]`, the
/// arguments of its `#[tokio::test]`.
///
/// ```ignore
/// lab::on_each_topology! {
///     async fn a_job_runs_once(topology) {
///         let env = TestEnv::start_on(topology).await;
///         // ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_each_topology {
    ($(
        $([runtime($($runtime:tt)*)])?
        $(#[$attribute:meta])* async fn $name:ident($topology:ident) $body:block
    )+) => {$(
        $(#[$attribute])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[::tokio::test($($($runtime)*)?)]
            async fn single_redis() {
                run($crate::testing::Topology::Single).await
            }

            #[::tokio::test($($($runtime)*)?)]
            async fn cluster() {
                run($crate::testing::Topology::CLUSTER).await
            }

            async fn run($topology: $crate::testing::Topology) $body
        }
    )+};
}

/// One test's own Redis and MongoDB database.
#[derive(Debug)]
pub struct TestEnv {
    redis: RedisLease,
    mongo: MongoLease,
}

impl TestEnv {
    /// An environment with an empty Redis and an empty database; panics with
    /// the reason if one cannot be made (it is for tests).
    pub async fn start() -> TestEnv {
        Self::try_start(false)
            .await
            .unwrap_or_else(|error| panic!("cannot set up the test environment: {error}"))
    }

    /// Like [`TestEnv::start`], with [`TEST_DATA`] loaded into the database.
    pub async fn start_seeded() -> TestEnv {
        Self::try_start(true)
            .await
            .unwrap_or_else(|error| panic!("cannot set up the test environment: {error}"))
    }

    /// Like [`TestEnv::start`], on the Redis `topology` names: the suites
    /// that must hold on a cluster as on one server run once on each.
    pub async fn start_on(topology: Topology) -> TestEnv {
        Self::try_start_on(topology, None)
            .await
            .unwrap_or_else(|error| panic!("cannot set up the test environment: {error}"))
    }

    /// Like [`TestEnv::start_seeded`], on the Redis `topology` names.
    pub async fn start_seeded_on(topology: Topology) -> TestEnv {
        Self::try_start_on(topology, Some(TEST_DATA))
            .await
            .unwrap_or_else(|error| panic!("cannot set up the test environment: {error}"))
    }

    /// Whether this test's Redis is a cluster.
    pub fn is_cluster(&self) -> bool {
        self.redis.is_cluster()
    }

    /// The fallible form of [`TestEnv::start`] and [`TestEnv::start_seeded`].
    pub async fn try_start(seeded: bool) -> Result<TestEnv, HarnessError> {
        Self::try_start_with(seeded.then_some(TEST_DATA)).await
    }

    /// An environment with `data` loaded into its database, when given; the
    /// notebook checks use the full standard data set, as students see it.
    pub async fn try_start_with(data: Option<SeedSpec>) -> Result<TestEnv, HarnessError> {
        Self::try_start_on(Topology::Single, data).await
    }

    /// An environment on `topology`, with `data` loaded when given.
    pub async fn try_start_on(
        topology: Topology,
        data: Option<SeedSpec>,
    ) -> Result<TestEnv, HarnessError> {
        let config = Config::from_env()?;
        let name = unique_name();
        let redis = async {
            match topology {
                Topology::Single => RedisLease::acquire(&config, &name).await,
                Topology::Cluster { masters, replicas } => {
                    RedisLease::acquire_cluster(&config, &name, masters, replicas).await
                }
            }
        };
        let (redis, mongo) = tokio::try_join!(redis, MongoLease::acquire(&config, &name))?;
        if let Some(data) = data {
            dataset::seed(mongo.database(), data, Existing::Refuse, &mut |_| {}).await?;
        }
        Ok(TestEnv { redis, mongo })
    }

    /// A new connection to this test's Redis, when it is a single server;
    /// panics on a cluster (use [`TestEnv::redis_connection`]).
    pub async fn redis(&self) -> ConnectionManager {
        assert!(
            !self.redis.is_cluster(),
            "this test's Redis is a cluster: connect with TestEnv::redis_connection"
        );
        connect_redis(self.redis.url(), Origin::Lab)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test's Redis: {error}"))
    }

    /// A new connection to this test's Redis, a single server or a cluster.
    pub async fn redis_connection(&self) -> RedisConnection {
        connect_redis_target(self.redis.url(), Origin::Lab)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test's Redis: {error}"))
    }

    /// The test's cluster, when it runs on one, to kill or inspect nodes.
    pub fn cluster_mut(&mut self) -> Option<&mut crate::services::ManagedCluster> {
        self.redis.cluster_mut()
    }

    /// Runs `work` from `tasks` tasks at once, each with a connection of
    /// its own, all released together by a barrier, and returns what each
    /// returned (in task order); panics, naming the task, if one panicked.
    /// With `#[tokio::test(flavor = "multi_thread")]` the tasks also run in
    /// parallel. This is how a graded test shows that a read-then-write in
    /// the client loses updates that one atomic command keeps.
    pub async fn race_redis<F, Fut, T>(&self, tasks: usize, work: F) -> Vec<T>
    where
        F: Fn(ConnectionManager, usize) -> Fut,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tasks));
        let mut handles = Vec::with_capacity(tasks);
        for task in 0..tasks {
            let started = work(self.redis().await, task);
            let barrier = barrier.clone();
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                started.await
            }));
        }
        let mut results = Vec::with_capacity(tasks);
        for (task, handle) in handles.into_iter().enumerate() {
            results.push(
                handle
                    .await
                    .unwrap_or_else(|error| panic!("task {task} of {tasks} failed: {error}")),
            );
        }
        results
    }

    /// Starts recording the commands this test's Redis runs; see
    /// [`redis_log`]. Record only the code under test: the harness's own
    /// checks made in between would be recorded too.
    pub async fn record_redis(&self) -> RedisRecording {
        RedisRecording::start(
            self.redis_url(),
            self.redis().await,
            self.owns_redis_server(),
        )
        .await
    }

    /// Starts recording the commands sent through [`TestEnv::database`]'s
    /// client; see [`mongo_log`].
    pub fn record_mongo(&self) -> MongoRecording {
        let sink = self.mongo.commands().clone();
        sink.start();
        MongoRecording { sink }
    }

    /// The URL of this test's Redis, database number included.
    pub fn redis_url(&self) -> &str {
        self.redis.url()
    }

    /// Whether this test's Redis is a server of its own, started by the
    /// harness, rather than a leased database on `REDIS_URL`.
    pub fn owns_redis_server(&self) -> bool {
        self.redis.is_own_server()
    }

    /// This test's MongoDB database.
    pub fn database(&self) -> &Database {
        self.mongo.database()
    }

    /// The MongoDB client, for code that takes a client and a database name.
    pub fn mongo_client(&self) -> &mongodb::Client {
        self.mongo.client()
    }

    /// The URI of the MongoDB server, without the database.
    pub fn mongodb_uri(&self) -> &str {
        self.mongo.uri()
    }

    /// The environment variables that point a child process (a notebook
    /// kernel, a `lab` command) at this environment: `REDIS_URL`,
    /// `MONGODB_URI` and `MONGODB_DB`, read by [`Config::from_env`].
    pub fn variables(&self) -> [(&'static str, String); 3] {
        [
            ("REDIS_URL", self.redis_url().to_owned()),
            ("MONGODB_URI", self.mongodb_uri().to_owned()),
            ("MONGODB_DB", self.database().name().to_owned()),
        ]
    }
}

/// A `redis-server` of the test's own, started fresh even when `REDIS_URL`
/// is set, which the test may stop ([`crate::services::ManagedServer::stop`])
/// to see what its code does when Redis goes away mid-run.
pub async fn stoppable_redis() -> crate::services::ManagedServer {
    let started = async {
        let config = Config::from_env()?;
        let program = crate::services::Toolbox::new(&config)
            .ensure(crate::services::Tool::RedisServer, &|message| {
                eprintln!("lab: {message}")
            })
            .map_err(ServiceError::from)?;
        let options = crate::services::RedisOptions {
            port: None,
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
        let program = crate::services::Toolbox::new(&config)
            .ensure(crate::services::Tool::Secantus, &|message| {
                eprintln!("lab: {message}")
            })
            .map_err(ServiceError::from)?;
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

/// The password of every server the harness starts, as `lab up` gives its
/// servers one: made once per test binary, so a server restarted on a
/// killed one's store accepts it.
pub(crate) fn harness_password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(|| {
        crate::services::secret::random_token().expect("the system's random source is readable")
    })
}

/// The MongoDB user of the harness's servers.
pub(crate) fn harness_credentials() -> crate::services::mongo_server::Credentials {
    crate::services::mongo_server::Credentials {
        user: crate::control::secrets::MONGODB_USER.to_owned(),
        password: harness_password().to_owned(),
    }
}

/// `p<pid>-<counter>-<random>`: unique among this run's tests, parallel runs
/// and earlier runs on a shared server, and short, since MongoDB limits the
/// length of names. The pid lets a later run find folders left by a dead one.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = bson::oid::ObjectId::new().to_hex();
    format!(
        "p{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &random[18..]
    )
}

/// Runs `work` to completion on a runtime of its own, on a thread of its own.
///
/// Teardown happens in `Drop`, which cannot await, and may run inside the
/// test's runtime, which must not be blocked waiting on itself; a separate
/// thread with a separate runtime and its own connections avoids both.
fn block_on_side_thread<F>(work: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let handle = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            // The timer must be made inside the runtime, so inside `block_on`.
            runtime.block_on(async {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), work()).await;
            });
        }
    });
    let _ = handle.join();
}

/// The folder for a test's server files under the lab's home. Folders of test
/// processes that no longer run are removed the first time this is called.
fn test_dir(config: &Config, name: &str) -> std::path::PathBuf {
    static CLEANED: std::sync::Once = std::sync::Once::new();
    let root = config.home.join("test");
    CLEANED.call_once(|| crate::services::process::remove_dirs_of_ended(&root));
    root.join(name)
}

/// Compares `value` with the snapshot `name` recorded from the answer key
/// in the `snapshots` folder beside the graded suite, and fails with
/// `message` (which should say what the snapshot shows and what to look
/// at) when they differ; insta prints the difference above it.
///
/// The name alone names the file, whichever crate runs the suite (the
/// answer key, the exercises, the grader's own crate), so one recording
/// serves them all. Redactions (`{ ".id" => "[id]" }`) may follow.
#[macro_export]
macro_rules! graded_snapshot {
    ($name:expr, $value:expr, $message:expr $(, $redactions:tt)?) => {{
        // Evaluated here, outside the closure, so the value may be awaited.
        let value = $value;
        let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
            ::insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
                ::insta::assert_json_snapshot!($name, value $(, $redactions)?);
            });
        }));
        if outcome.is_err() {
            panic!(
                "{} (it differs from the answer key's recorded snapshot `{}`; the difference is printed above)",
                $message, $name
            );
        }
    }};
}
