//! [`TestEnv`]: one test's own Redis and MongoDB database, started
//! together and torn down when it is dropped.

use mongodb::Database;
use redis::aio::ConnectionManager;

use super::mongo::MongoLease;
use super::mongo_log::MongoRecording;
use super::names::unique_name;
use super::redis_lease::RedisLease;
use super::redis_log::RedisRecording;
use super::{HarnessError, Topology};
use crate::config::Config;
use crate::dataset::{self, Existing, SeedSpec};
use crate::services::{Origin, RedisConnection, connect_redis, connect_redis_target};

/// The small fixed data set of [`TestEnv::start_seeded`]: enough for every
/// query shape, small enough to load in a blink.
pub const TEST_DATA: SeedSpec = SeedSpec {
    customers: 25,
    invoices: 300,
    seed: dataset::DEFAULT_SEED,
};

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
    /// [`redis_log`](super::redis_log). Record only the code under test: the harness's own
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
    /// client; see [`mongo_log`](super::mongo_log).
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

    /// Tears the environment down from async code, MongoDB client first.
    ///
    /// A MongoDB client dropped without being shut down leaves the driver
    /// a clean-up task, which panics on its own thread when the runtime
    /// stops under it: harmless, but a panic printed after a green run.
    /// Code that can await (the notebook checks) calls this instead of
    /// dropping; dropping does the rest, as it always does.
    pub async fn close(self) {
        self.mongo.client().clone().shutdown().immediate(true).await;
    }
}
