//! [`run_external`]: a child `lab serve` driven by `wrk`, and Redis by
//! `redis-benchmark`, with this process standing in for a tool that is
//! missing.

use std::path::PathBuf;
use std::time::Duration;

use super::Phase;
use super::child::{cache_misses, start_api};
use super::customers::Customers;
use super::load::{http_load, redis_load};
use crate::bench::external;
use crate::bench::{failed, io, scratch_redis};
use crate::control::LabError;
use lab::config::Config;

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
        let redis_server = scratch_redis(config, say).await?;
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
            .map_err(failed("warming the cache"))?;
        let (_, _, warm) = http_load(port, concurrency, everyone.clone())
            .await
            .map_err(failed("warming the cache"))?;
        if !warm {
            return Err(LabError::Unmeasurable {
                step: "warming the cache",
                problem: "a second read of every customer did not all come from the cache",
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
                let ran = ran.map_err(failed("measuring with wrk"))?;
                (ran.phase, ran.errors, ran.command)
            }
            None => {
                say("wrk is not installed: the load comes from this process instead");
                let (latencies, elapsed, _) =
                    http_load(port, concurrency, customers.paths(fallback_requests))
                        .await
                        .map_err(failed("the hit phase"))?;
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
                    .map_err(failed("measuring with redis-benchmark"))?;
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
