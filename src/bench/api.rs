//! `lab bench api`: requests per second and latency of `GET /customers/{id}`
//! when the cache has the customer (hit) and when it does not (miss), next
//! to a bare Redis GET at the same concurrency in the same run.
//!
//! Everything runs on this machine: a fresh `redis-server`, the scratch
//! MongoDB of the benchmarks with 1,000 customers, and the API on a real
//! socket. Two modes:
//!
//! - [`run`], in one process: the API, and a load generator of its own
//!   (plain HTTP/1.1 keep-alive connections, one request at a time on each)
//!   and a Redis GET loop with the same client library the API uses. Hits,
//!   misses and Redis compared on equal terms, with no tool to install.
//! - [`run_external`] (`--external`): the API as users run it, a child
//!   `lab serve` on a free port, driven by `wrk` for as long as asked, and
//!   Redis measured by `redis-benchmark`: the figures an operator would
//!   get with those tools. The in-process generator shares two cores with
//!   the server it measures, so its figures are not those.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use mongodb::Database;
use redis::AsyncCommands;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::api::{ApiState, serve};
use crate::billing::collections;
use crate::cache::customer::entry_key;
use crate::config::Config;
use crate::control::LabError;
use crate::dataset::{self, Existing, SeedSpec};
use crate::services::launcher::{self, ManagedServer, ServerPlan};
use crate::services::{Lifetime, Origin, connect_redis, process};

pub use super::Phase;
use super::external::{self, LoadToolError};
use super::{failed, io};

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct ApiBenchReport {
    /// Which MongoDB server answered.
    pub server: String,
    /// Connections used by every phase.
    pub concurrency: usize,
    /// Cache hits through the API.
    pub hit: Phase,
    /// Cache misses through the API (each one a MongoDB read and a write-back).
    pub miss: Phase,
    /// Bare `GET customer:{id}` on Redis, no HTTP.
    pub bare_redis: Phase,
    /// Whether every hit-phase answer said `"source":"cache"`.
    pub all_hits_from_cache: bool,
}

impl ApiBenchReport {
    /// The hit rate as a fraction of the bare Redis GET rate.
    pub fn ratio(&self) -> f64 {
        self.hit.rate() / self.bare_redis.rate()
    }
}

/// Runs the three phases: `hits` cached requests, `rounds` rounds of 1,000
/// misses, and as many bare GETs as hits, on `concurrency` connections.
pub async fn run(
    config: &Config,
    concurrency: usize,
    hits: usize,
    rounds: usize,
    say: &dyn Fn(&str),
) -> Result<ApiBenchReport, LabError> {
    let concurrency = concurrency.max(1);
    let customers = Customers::load(config, say).await?;
    let outcome = async {
        let redis_server = super::scratch_redis(config, say).await?;
        let redis = connect_redis(redis_server.url(), Origin::Lab).await?;

        let state = ApiState::new(customers.database.clone(), redis.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(io("binding a port for the API"))?;
        let port = listener
            .local_addr()
            .map_err(io("reading the API's port"))?
            .port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));

        say("misses: each round empties Redis and asks for every customer once");
        let mut miss_latencies = Vec::new();
        let mut miss_elapsed = Duration::ZERO;
        for _ in 0..rounds.max(1) {
            let mut flush = redis.clone();
            let _: () = redis::cmd("FLUSHDB")
                .query_async(&mut flush)
                .await
                .map_err(failed("emptying the benchmark's Redis"))?;
            let (latencies, elapsed, _) =
                http_load(port, concurrency, customers.paths(customers.ids.len()))
                    .await
                    .map_err(io("the miss phase"))?;
            miss_latencies.extend(latencies);
            miss_elapsed += elapsed;
        }
        let miss = Phase::of(miss_latencies, miss_elapsed);

        say("hits: every customer is cached now");
        let (latencies, elapsed, all_hits) = http_load(port, concurrency, customers.paths(hits))
            .await
            .map_err(io("the hit phase"))?;
        let hit = Phase::of(latencies, elapsed);

        say("bare Redis GETs of the same keys");
        let bare_redis = redis_load(redis_server.url(), concurrency, customers.keys(hits)).await?;

        let _ = stop.send(());
        let _ = server.await;
        Ok(ApiBenchReport {
            server: customers.scratch.label.clone(),
            concurrency,
            hit,
            miss,
            bare_redis,
            all_hits_from_cache: all_hits,
        })
    }
    .await;
    customers.drop_database().await;
    outcome
}

/// The scratch MongoDB with 1,000 customers in a database of their own.
struct Customers {
    scratch: super::ScratchServer,
    database: Database,
    /// Their ids.
    ids: Vec<ObjectId>,
}

impl Customers {
    async fn load(config: &Config, say: &dyn Fn(&str)) -> Result<Customers, LabError> {
        let scratch = super::ScratchServer::start(config, say).await?;
        let client = scratch.client().await?;
        let stamp = bson::oid::ObjectId::new().to_hex();
        let database = client.database(&format!("bench_api_{}", &stamp[16..]));
        say("loading 1,000 customers");
        let spec = SeedSpec {
            customers: 1000,
            invoices: 0,
            seed: dataset::DEFAULT_SEED,
        };
        let listed = async {
            dataset::seed(&database, spec, Existing::Refuse, &mut |_| {}).await?;
            let ids: Vec<ObjectId> = collections::customers(&database)
                .distinct("_id", bson::doc! {})
                .await
                .map_err(failed("listing the customers"))?
                .iter()
                .filter_map(bson::Bson::as_object_id)
                .collect();
            Ok::<_, LabError>(ids)
        }
        .await;
        match listed {
            Ok(ids) if !ids.is_empty() => Ok(Customers {
                scratch,
                database,
                ids,
            }),
            outcome => {
                let _ = database.drop().await;
                Err(outcome.err().unwrap_or_else(|| LabError::Io {
                    context: "seeding the benchmark's customers".into(),
                    source: std::io::Error::other("no customer was loaded"),
                }))
            }
        }
    }

    /// `count` paths `/customers/{id}`, the ids in turn.
    fn paths(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("/customers/{}", self.ids[i % self.ids.len()]))
            .collect()
    }

    /// `count` cache keys of the same customers, as the cache names them.
    fn keys(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| entry_key(self.ids[i % self.ids.len()]))
            .collect()
    }

    async fn drop_database(&self) {
        let _ = self.database.drop().await;
    }
}

/// The figures of one `--external` run.
#[derive(Debug, Clone)]
pub struct ExternalReport {
    /// Which MongoDB server answered.
    pub server: String,
    /// Connections the API and Redis were each driven with.
    pub concurrency: usize,
    /// The API's URL and process id.
    pub api: String,
    /// How the API was driven: the `wrk` command line, or the in-process
    /// generator and the command that installs `wrk`.
    pub api_load: String,
    /// Cache hits through the API.
    pub hit: Phase,
    /// Answers that were not 2xx/3xx, and socket errors, during the hits.
    pub errors: u64,
    /// Whether the API's cache counted no miss while it was driven.
    pub all_hits_from_cache: bool,
    /// How Redis was driven: the `redis-benchmark` command line, or the
    /// in-process loop and the command that installs `redis-benchmark`.
    pub redis_load: String,
    /// Bare `GET` on the same Redis.
    pub bare_redis: Phase,
}

impl ExternalReport {
    /// The hit rate as a fraction of the bare Redis GET rate.
    pub fn ratio(&self) -> f64 {
        self.hit.rate() / self.bare_redis.rate()
    }
}

/// Runs the API as a child `lab serve` (`lab` is the path of the `lab`
/// program) over 1,000 customers with a warm cache, drives it with `wrk`
/// for `duration` on `concurrency` connections, then `redis-benchmark -t
/// get` with as many clients on the same Redis for `redis_requests`
/// requests. Without `wrk` (or `redis-benchmark`) the in-process generator
/// stands in, sending `fallback_requests`, and the report says so.
pub async fn run_external(
    config: &Config,
    lab: PathBuf,
    concurrency: usize,
    duration: Duration,
    redis_requests: usize,
    fallback_requests: usize,
    say: &dyn Fn(&str),
) -> Result<ExternalReport, LabError> {
    let concurrency = concurrency.max(1);
    let customers = Customers::load(config, say).await?;
    let outcome = async {
        let redis_server = super::scratch_redis(config, say).await?;
        let api = start_api(config, lab, &customers, redis_server.url()).await?;
        let port = api.port();
        say(&format!(
            "API: `lab serve` (pid {}) on port {port}; warming the cache",
            api.pid().unwrap_or(0)
        ));
        let everyone = customers.paths(customers.ids.len());
        // The first pass fills the cache; the second must find everyone.
        http_load(port, concurrency, everyone.clone())
            .await
            .map_err(io("warming the cache"))?;
        let (_, _, warm) = http_load(port, concurrency, everyone.clone())
            .await
            .map_err(io("warming the cache"))?;
        if !warm {
            return Err(LabError::Io {
                context: "warming the cache".into(),
                source: std::io::Error::other(
                    "a second read of every customer did not all come from the cache",
                ),
            });
        }
        let misses_before = cache_misses(port).await?;

        let wrk = external::locate(&config.search_path, "wrk");
        let (hit, errors, api_load) = match wrk {
            Some(wrk) => {
                let folder = std::env::temp_dir().join(format!("lab-bench-wrk-{}", std::process::id()));
                std::fs::create_dir_all(&folder).map_err(io("creating the wrk script's folder"))?;
                let script = folder.join("customers.lua");
                std::fs::write(&script, external::rotation_script(&everyone))
                    .map_err(io("writing the wrk script"))?;
                say(&format!("hits: wrk for {} s", duration.as_secs()));
                let url = format!("http://127.0.0.1:{port}");
                let ran = external::run_wrk(&wrk, &url, concurrency, duration, &script).await;
                let _ = std::fs::remove_dir_all(&folder);
                let ran = ran.map_err(tool_failed("wrk"))?;
                (ran.phase, ran.errors, ran.command)
            }
            None => {
                say("wrk is not installed: the load comes from this process instead");
                let (latencies, elapsed, _) =
                    http_load(port, concurrency, customers.paths(fallback_requests))
                        .await
                        .map_err(io("the hit phase"))?;
                (
                    Phase::of(latencies, elapsed),
                    0,
                    format!(
                        "this process ({fallback_requests} requests; wrk is not installed, install it with `{}`)",
                        external::install_hint("wrk")
                    ),
                )
            }
        };
        let misses_after = cache_misses(port).await?;
        drop(api);

        let (bare_redis, redis_load) =
            match external::locate(&config.search_path, "redis-benchmark") {
                Some(program) => {
                    say("bare Redis GETs: redis-benchmark");
                    let ran = external::run_redis_benchmark(
                        &program,
                        redis_server.port(),
                        concurrency,
                        redis_requests,
                    )
                    .await
                    .map_err(tool_failed("redis-benchmark"))?;
                    (ran.phase, ran.command)
                }
                None => {
                    say("redis-benchmark is not installed: bare GETs from this process instead");
                    (
                        redis_load(redis_server.url(), concurrency, customers.keys(redis_requests))
                            .await?,
                        format!(
                            "this process (redis-benchmark is not installed, install it with `{}`)",
                            external::install_hint("redis-tools")
                        ),
                    )
                }
            };
        Ok(ExternalReport {
            server: customers.scratch.label.clone(),
            concurrency,
            api: format!("`lab serve` on http://127.0.0.1:{port}"),
            api_load,
            hit,
            errors,
            all_hits_from_cache: misses_after == misses_before,
            redis_load,
            bare_redis,
        })
    }
    .await;
    customers.drop_database().await;
    outcome
}

fn tool_failed(what: &'static str) -> impl Fn(LoadToolError) -> LabError {
    move |error| LabError::Io {
        context: format!("measuring with {what}"),
        source: std::io::Error::other(error),
    }
}

/// A child `lab serve` on a free port, over `customers` and the Redis at
/// `redis_url`, stopped when dropped (and killed with this process). Its
/// output goes to `LAB_HOME/bench/p<pid>-api/api.log`.
async fn start_api(
    config: &Config,
    lab: PathBuf,
    customers: &Customers,
    redis_url: &str,
) -> Result<ManagedServer, LabError> {
    let dir = config
        .home
        .join("bench")
        .join(format!("p{}-api", std::process::id()));
    let key = crate::services::secret::random_token().map_err(io("making the API's key"))?;
    let plan = ServerPlan {
        service: "the billing API",
        program: lab,
        port: None,
        log_file: dir.join("api.log"),
        dir,
        lifetime: Lifetime::Tied,
        startup_timeout: Duration::from_secs(30),
        env: vec![
            ("REDIS_URL".to_owned(), redis_url.to_owned()),
            ("MONGODB_URI".to_owned(), customers.scratch.uri.clone()),
            (
                "MONGODB_DB".to_owned(),
                customers.database.name().to_owned(),
            ),
            ("LAB_API_KEY".to_owned(), key),
        ],
    };
    Ok(launcher::launch(
        &plan,
        |port| vec!["serve".into(), "--port".into(), port.to_string().into()],
        |port| format!("http://127.0.0.1:{port}"),
        async |url: &str| match url.rsplit(':').next().and_then(|port| port.parse().ok()) {
            Some(port) => process::port_accepts(port).await,
            None => false,
        },
    )
    .await?)
}

/// The API's count of cache misses, from its `/metrics`.
async fn cache_misses(port: u16) -> Result<u64, LabError> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(io("asking the API for its metrics"))?;
    let mut stream = BufReader::new(stream);
    let body = get(&mut stream, "/metrics")
        .await
        .map_err(io("asking the API for its metrics"))?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix("lab_customer_cache_misses_total "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| LabError::Io {
            context: "asking the API for its metrics".into(),
            source: std::io::Error::other("no lab_customer_cache_misses_total in /metrics"),
        })
}

/// Sends `paths` as GETs over `concurrency` keep-alive connections, each
/// taking the next path when its previous answer is in. Returns every
/// latency, the wall time, and whether every answer came from the cache.
async fn http_load(
    port: u16,
    concurrency: usize,
    paths: Vec<String>,
) -> std::io::Result<(Vec<Duration>, Duration, bool)> {
    let queue = Arc::new(std::sync::Mutex::new(paths.into_iter()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let mut stream = BufReader::new(stream);
            let mut latencies = Vec::new();
            let mut all_cache = true;
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some(path) = next else { break };
                let sent = Instant::now();
                let body = get(&mut stream, &path).await?;
                latencies.push(sent.elapsed());
                all_cache &= body.starts_with(b"{\"source\":\"cache\"");
            }
            Ok::<_, std::io::Error>((latencies, all_cache))
        }));
    }
    let mut latencies = Vec::new();
    let mut all_cache = true;
    for worker in workers {
        let (mine, cache) = worker.await.map_err(std::io::Error::other)??;
        latencies.extend(mine);
        all_cache &= cache;
    }
    Ok((latencies, started.elapsed(), all_cache))
}

/// One HTTP/1.1 GET on a kept-alive connection; the body of a 200.
async fn get(stream: &mut BufReader<TcpStream>, path: &str) -> std::io::Result<Vec<u8>> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("{path}: {}", line.trim())));
    }
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        let header = line.trim();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// `GET key` for each of `keys`, over `concurrency` connections of their
/// own, one command at a time on each (as the API's requests are).
async fn redis_load(url: &str, concurrency: usize, keys: Vec<String>) -> Result<Phase, LabError> {
    let queue = Arc::new(std::sync::Mutex::new(keys.into_iter()));
    let client = redis::Client::open(url).map_err(failed("talking to the benchmark's Redis"))?;
    let mut connections = Vec::new();
    for _ in 0..concurrency {
        connections.push(
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(failed("talking to the benchmark's Redis"))?,
        );
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut connection in connections {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some(key) = next else { break };
                let sent = Instant::now();
                let _: Option<String> = connection.get(&key).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, redis::RedisError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        let mine = worker
            .await
            .map_err(|error| LabError::Io {
                context: "a Redis worker stopped".into(),
                source: std::io::Error::other(error),
            })?
            .map_err(failed("talking to the benchmark's Redis"))?;
        latencies.extend(mine);
    }
    Ok(Phase::of(latencies, started.elapsed()))
}
