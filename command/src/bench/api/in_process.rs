//! [`run`]: the API and its load in one process, hits and misses next to
//! bare Redis GETs.

use std::time::Duration;

use super::Phase;
use super::customers::Customers;
use super::load::{http_load, redis_load};
use crate::bench::{failed, io, scratch_redis};
use crate::control::LabError;
use lab::api::{ApiState, serve};
use lab::config::Config;
use lab::services::{Origin, connect_redis};

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
        let redis_server = scratch_redis(config, say).await?;
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
                    .map_err(failed("the miss phase"))?;
            miss_latencies.extend(latencies);
            miss_elapsed += elapsed;
        }
        let miss = Phase::of(miss_latencies, miss_elapsed);

        say("hits: every customer is cached now");
        let (latencies, elapsed, all_hits) = http_load(port, concurrency, customers.paths(hits))
            .await
            .map_err(failed("the hit phase"))?;
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
