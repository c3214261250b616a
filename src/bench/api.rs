//! `lab bench api`: requests per second and latency of `GET /customers/{id}`
//! when the cache has the customer (hit) and when it does not (miss), next
//! to a bare Redis GET loop at the same concurrency in the same run.
//!
//! Everything runs on this machine: a fresh `redis-server`, the scratch
//! MongoDB of the benchmarks with 1,000 customers, the API on a real socket,
//! and the load generator (plain HTTP/1.1 keep-alive connections, one
//! request at a time on each) in the same process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::api::{ApiState, serve};
use crate::billing::collections;
use crate::config::Config;
use crate::control::LabError;
use crate::dataset::{self, Existing, SeedSpec};
use crate::services::{Origin, connect_redis};

pub use super::Phase;
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
    let scratch = super::ScratchServer::start(config, say).await?;
    let client = scratch.client().await?;
    let stamp = bson::oid::ObjectId::new().to_hex();
    let database = client.database(&format!("bench_api_{}", &stamp[16..]));
    let outcome = async {
        say("loading 1,000 customers");
        let spec = SeedSpec {
            customers: 1000,
            invoices: 0,
            seed: dataset::DEFAULT_SEED,
        };
        dataset::seed(&database, spec, Existing::Refuse, &mut |_| {}).await?;
        let ids: Vec<String> = collections::customers(&database)
            .distinct("_id", bson::doc! {})
            .await
            .map_err(failed("listing the customers"))?
            .iter()
            .filter_map(bson::Bson::as_object_id)
            .map(|id| id.to_hex())
            .collect();

        let redis_server = super::scratch_redis(config, say).await?;
        let redis = connect_redis(redis_server.url(), Origin::Lab).await?;

        let state = ApiState::new(database.clone(), redis.clone());
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
            let paths: Vec<String> = ids.iter().map(|id| format!("/customers/{id}")).collect();
            let (latencies, elapsed, _) = http_load(port, concurrency, paths)
                .await
                .map_err(io("the miss phase"))?;
            miss_latencies.extend(latencies);
            miss_elapsed += elapsed;
        }
        let miss = Phase::of(miss_latencies, miss_elapsed);

        say("hits: every customer is cached now");
        let paths: Vec<String> = (0..hits)
            .map(|i| format!("/customers/{}", ids[i % ids.len()]))
            .collect();
        let (latencies, elapsed, all_hits) = http_load(port, concurrency, paths)
            .await
            .map_err(io("the hit phase"))?;
        let hit = Phase::of(latencies, elapsed);

        say("bare Redis GETs of the same keys");
        let keys: Vec<String> = (0..hits)
            .map(|i| format!("customer:{}", ids[i % ids.len()]))
            .collect();
        let bare_redis = redis_load(redis_server.url(), concurrency, keys).await?;

        let _ = stop.send(());
        let _ = server.await;
        Ok(ApiBenchReport {
            server: scratch.label.clone(),
            concurrency,
            hit,
            miss,
            bare_redis,
            all_hits_from_cache: all_hits,
        })
    }
    .await;
    let _ = database.drop().await;
    outcome
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
