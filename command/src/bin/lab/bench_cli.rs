//! `lab bench ...`: each benchmark's arguments, and its figures printed;
//! the measuring is done in `lab_command::bench`. `lab bench jobs` prints through
//! `bench_jobs_cli`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use lab::Config;
use lab::dataset::{self, SeedSpec};
use lab_command::bench::jobs::JobsBenchPlan;

use crate::{bench_jobs_cli, say};

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Seeding speed next to a bare insert_many of the same documents.
    Seed {
        /// Number of customers.
        #[arg(long, default_value_t = 1_000)]
        customers: i64,
        /// Number of invoices.
        #[arg(long, default_value_t = 1_000_000)]
        invoices: i64,
        /// The seed.
        #[arg(long, default_value_t = dataset::DEFAULT_SEED)]
        seed: u64,
    },
    /// GET /customers/{id} on cache hits and misses, next to bare Redis GETs.
    Api {
        /// Connections sending requests at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        concurrency: u64,
        /// Requests in the hit phase (and GETs in the bare Redis phase); with
        /// --external, only when wrk is missing.
        #[arg(long, default_value_t = 50_000)]
        requests: usize,
        /// Rounds of 1,000 misses (not with --external).
        #[arg(long, default_value_t = 5)]
        miss_rounds: usize,
        /// Serve the API from a child `lab serve`, as users run it, drive it
        /// with wrk (2 threads) and measure Redis with redis-benchmark: the
        /// figures those tools give. Cache hits only.
        #[arg(long)]
        external: bool,
        /// With --external: how long wrk drives the API, in seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// With --external: requests redis-benchmark sends.
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        redis_requests: u64,
    },
    /// Revenue per customer by a pipeline in the database, next to the same
    /// sum computed in Rust.
    Revenue {
        /// Number of customers.
        #[arg(long, default_value_t = 1_000)]
        customers: i64,
        /// Number of invoices.
        #[arg(long, default_value_t = 20_000)]
        invoices: i64,
        /// How many times to run each.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// No-op job throughput with 1 and 2 workers next to RQ on the same
    /// Redis, pick-up latency, a run in Sidekiq's manner next to its
    /// published figure, and revenue by customer as a job next to the same
    /// pipeline run directly.
    Jobs {
        /// No-op jobs per throughput run (the lab's and RQ's).
        #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        jobs: u64,
        /// Slots (jobs run at once) of each worker in the throughput runs.
        #[arg(long, default_value_t = lab_command::bench::jobs::SIDEKIQ_CONCURRENCY as u64, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        concurrency: u64,
        /// Jobs whose pick-up latency is measured.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        samples: u64,
        /// Jobs submitted first, then drained by one worker of 30 slots
        /// (Sidekiq's manner).
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        drain_jobs: u64,
        /// Invoices of the revenue comparison (200,000 keeps a default run
        /// under two minutes).
        #[arg(long, default_value_t = 200_000)]
        invoices: i64,
        /// Rounds of the revenue comparison.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Also measure on Redis Clusters of 1, 2 and 3 masters (started
        /// for the run, two workers each).
        #[arg(long)]
        cluster: bool,
    },
}

/// Runs the benchmark `bench` names and prints its figures.
pub async fn run(config: &Config, bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Seed {
            customers,
            invoices,
            seed,
        } => {
            let spec = SeedSpec::new(customers, invoices, seed)?;
            seed_figures(config, spec).await
        }
        Bench::Api {
            concurrency,
            requests,
            miss_rounds,
            external: false,
            ..
        } => api_figures(config, concurrency as usize, requests, miss_rounds).await,
        Bench::Api {
            concurrency,
            requests,
            external: true,
            seconds,
            redis_requests,
            ..
        } => {
            let plan = ExternalPlan {
                concurrency: concurrency as usize,
                duration: Duration::from_secs(seconds),
                redis_requests: redis_requests as usize,
                fallback_requests: requests,
            };
            external_api_figures(config, plan).await
        }
        Bench::Revenue {
            customers,
            invoices,
            rounds,
        } => {
            let spec = SeedSpec::new(customers, invoices, dataset::DEFAULT_SEED)?;
            revenue_figures(config, spec, rounds).await
        }
        Bench::Jobs {
            jobs,
            concurrency,
            samples,
            drain_jobs,
            invoices,
            rounds,
            cluster,
        } => {
            let spec = SeedSpec::new(1_000, invoices, dataset::DEFAULT_SEED)?;
            let lab =
                std::env::current_exe().context("cannot find the lab program to run as workers")?;
            let plan = JobsBenchPlan {
                lab,
                jobs: jobs as usize,
                concurrency: concurrency as usize,
                samples: samples as usize,
                drain_jobs: drain_jobs as usize,
                spec,
                rounds,
                cluster_masters: if cluster { vec![1, 2, 3] } else { Vec::new() },
            };
            bench_jobs_cli::figures(config, &plan).await
        }
    }
}

async fn seed_figures(config: &Config, spec: SeedSpec) -> anyhow::Result<ExitCode> {
    let report = lab_command::bench::seed::run(config, spec, &say).await?;
    println!("server:            {}", report.server);
    println!(
        "documents:         {} ({} customers, {} invoices)",
        report.documents, spec.customers, spec.invoices
    );
    println!("generate only:     {:.2} s", report.generate.as_secs_f64());
    println!(
        "bare insert_many:  {:.2} s  {:>10.0} docs/s",
        report.bare_insert.as_secs_f64(),
        report.bare_docs_per_second()
    );
    println!(
        "bare, indexed:     {:.2} s  {:>10.0} docs/s  (same indexes as lab seed)",
        report.bare_indexed.as_secs_f64(),
        report.bare_indexed_docs_per_second()
    );
    println!(
        "lab seed:          {:.2} s  {:>10.0} docs/s  (generation, inserts, indexes, publication)",
        report.seed.as_secs_f64(),
        report.seed_docs_per_second()
    );
    println!(
        "ratio:             {:.2} of the bare insert_many rate",
        report.ratio()
    );
    if let (Some(elapsed), Some(rate)) =
        (report.seed_without_sync, report.unsynced_docs_per_second())
    {
        println!(
            "lab seed, no sync: {:.2} s  {:>10.0} docs/s  (a server without --sync-on-commit: acknowledged writes may be lost to kill -9)",
            elapsed.as_secs_f64(),
            rate
        );
        println!(
            "durability cost:   {:.2} of the unsynced seeding rate",
            report.seed_docs_per_second() / rate
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `lab bench api`: rate, p50, p99, requests.
fn show_phase(name: &str, phase: &lab_command::bench::api::Phase) {
    println!(
        "{name:<20} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   ({} requests)",
        phase.rate(),
        phase.p50.as_secs_f64() * 1000.0,
        phase.p99.as_secs_f64() * 1000.0,
        phase.requests
    );
}

async fn api_figures(
    config: &Config,
    concurrency: usize,
    requests: usize,
    miss_rounds: usize,
) -> anyhow::Result<ExitCode> {
    let report =
        lab_command::bench::api::run(config, concurrency, requests, miss_rounds, &say).await?;
    println!("MongoDB: {}", report.server);
    println!("concurrency: {} connections", report.concurrency);
    show_phase("API, cache hit", &report.hit);
    show_phase("API, cache miss", &report.miss);
    show_phase("bare Redis GET", &report.bare_redis);
    println!(
        "ratio: the hit path runs at {:.2} of the bare Redis GET rate{}",
        report.ratio(),
        if report.all_hits_from_cache {
            ""
        } else {
            " (some hits were not served from the cache!)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// What `lab bench api --external` was asked for.
struct ExternalPlan {
    concurrency: usize,
    duration: Duration,
    redis_requests: usize,
    fallback_requests: usize,
}

async fn external_api_figures(config: &Config, plan: ExternalPlan) -> anyhow::Result<ExitCode> {
    let lab = std::env::current_exe().context("cannot find the lab program to run `lab serve`")?;
    let report = lab_command::bench::api::run_external(
        config,
        lab,
        plan.concurrency,
        plan.duration,
        plan.redis_requests,
        plan.fallback_requests,
        &say,
    )
    .await?;
    println!("MongoDB: {}", report.server);
    println!("API: {}, 1,000 customers, cache warm", report.api);
    println!("concurrency: {} connections", report.concurrency);
    println!("API load:   {}", report.api_load);
    println!("Redis load: {}", report.redis_load);
    show_phase("API, cache hit", &report.hit);
    show_phase("bare Redis GET", &report.bare_redis);
    if report.errors > 0 {
        println!(
            "{} answers were errors (not 2xx/3xx) or failed sockets: the rate counts them",
            report.errors
        );
    }
    println!(
        "ratio: the hit path runs at {:.2} of the bare Redis GET rate{}",
        report.ratio(),
        if report.all_hits_from_cache {
            ""
        } else {
            " (the cache counted misses during the run!)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn revenue_figures(config: &Config, spec: SeedSpec, rounds: u32) -> anyhow::Result<ExitCode> {
    use lab_command::bench::revenue::median;
    let report = lab_command::bench::revenue::run(config, spec, rounds, &say).await?;
    let show = |times: &[Duration]| {
        let all: Vec<String> = times
            .iter()
            .map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0))
            .collect();
        format!(
            "median {:>8.1} ms   (rounds: {} ms)",
            median(times).as_secs_f64() * 1000.0,
            all.join(", ")
        )
    };
    println!("server:            {}", report.server);
    println!(
        "data set:          {} customers, {} invoices (loaded in {:.1} s)",
        report.spec.customers,
        report.spec.invoices,
        report.seed.as_secs_f64()
    );
    println!(
        "answer:            {} customers with revenue, {} in all (both ways agree)",
        report.customers, report.total
    );
    println!("in MongoDB:        {}", show(&report.database));
    println!("in Rust:           {}", show(&report.rust));
    println!(
        "ratio:             the Rust sum took {:.2} times as long as the pipeline",
        report.ratio()
    );
    Ok(ExitCode::SUCCESS)
}
