//! [`run`]: every measurement of `lab bench jobs`, in order, on scratch
//! servers of its own.

use std::time::{Duration, Instant};

use super::cluster::on_cluster;
use super::plan::{JobsBenchPlan, RQ_WORKERS, SIDEKIQ_CONCURRENCY, WORKER_COUNTS};
use super::queue::{QUEUE_FAILED, drained, submit_noops};
use super::report::{JobsBenchReport, RqOutcome, Throughput};
use super::workers::Workers;
use crate::bench::machine::Machine;
use crate::bench::rq::Rq;
use crate::bench::{Phase, failed};
use crate::control::LabError;
use lab::analysis::revenue;
use lab::config::Config;
use lab::dataset::{self, Existing};
use lab::jobs::{EventData, JobQueue, JobState, NewJob};
use lab::services::{Origin, connect_redis};

/// Runs the measurements.
pub async fn run(
    config: &Config,
    plan: &JobsBenchPlan,
    say: &dyn Fn(&str),
) -> Result<JobsBenchReport, LabError> {
    let scratch = crate::bench::ScratchServer::start(config, say).await?;
    let client = scratch.client().await?;
    let stamp = bson::oid::ObjectId::new().to_hex();
    let database = client.database(&format!("bench_jobs_{}", &stamp[16..]));
    let redis_server = crate::bench::scratch_redis(config, say).await?;
    let redis = connect_redis(redis_server.url(), Origin::Lab).await?;
    let queue = JobQueue::new(redis, lab::jobs::PREFIX);
    let environment = [
        ("REDIS_URL", redis_server.url().to_owned()),
        ("MONGODB_URI", scratch.uri.clone()),
        ("MONGODB_DB", database.name().to_owned()),
        ("LAB_HOME", config.home.display().to_string()),
    ];
    let outcome = async {
        let mut throughput = Vec::new();
        for workers in WORKER_COUNTS {
            say(&format!(
                "{} no-op jobs with {workers} worker(s) of {} slots",
                plan.jobs, plan.concurrency
            ));
            let running =
                Workers::start(&plan.lab, workers, plan.concurrency, &environment).await?;
            let started = Instant::now();
            submit_noops(&queue, plan.jobs).await?;
            drained(&queue).await?;
            throughput.push(Throughput {
                workers,
                concurrency: plan.concurrency,
                jobs: plan.jobs,
                elapsed: started.elapsed(),
            });
            running.stop().await;
        }

        let mut cluster = Vec::new();
        for &masters in &plan.cluster_masters {
            say(&format!(
                "{} no-op jobs with {RQ_WORKERS} worker(s) on a Redis Cluster of {masters} master(s)",
                plan.jobs
            ));
            let run = on_cluster(config, plan, masters, &environment[1..], say).await?;
            cluster.push((masters, run));
        }

        say(&format!(
            "{} no-op jobs with {RQ_WORKERS} RQ workers",
            plan.jobs
        ));
        let rq = match Rq::ensure(config, say) {
            Ok(rq) => match rq.run(redis_server.url(), RQ_WORKERS, plan.jobs).await {
                Ok(run) => RqOutcome::Measured {
                    throughput: Throughput {
                        workers: RQ_WORKERS,
                        concurrency: 1,
                        jobs: plan.jobs,
                        elapsed: run.elapsed,
                    },
                    failed: run.failed,
                },
                Err(error) => RqOutcome::Skipped(error.to_string()),
            },
            Err(error) => RqOutcome::Skipped(error.to_string()),
        };

        say(&format!("pick-up latency of {} jobs", plan.samples));
        let running = Workers::start(&plan.lab, 2, plan.concurrency, &environment).await?;
        let mut latencies = Vec::new();
        for _ in 0..plan.samples {
            let (id, _) = queue
                .submit(&NewJob::new("noop", "{}"))
                .await
                .map_err(failed(QUEUE_FAILED))?;
            drained(&queue).await?;
            let events = queue
                .events(&id, None)
                .await
                .map_err(failed(QUEUE_FAILED))?;
            let at = |wanted: JobState| {
                events.iter().find_map(|event| match &event.data {
                    EventData::State { state, at_us, .. } if *state == wanted => Some(*at_us),
                    _ => None,
                })
            };
            if let (Some(queued), Some(claimed)) = (at(JobState::Queued), at(JobState::Running)) {
                latencies.push(Duration::from_micros(claimed.saturating_sub(queued)));
            }
        }
        let pickup = Phase::of(latencies, Duration::ZERO);
        running.stop().await;

        say(&format!(
            "Sidekiq's manner: {} no-op jobs submitted, then drained by one worker of {SIDEKIQ_CONCURRENCY} slots",
            plan.drain_jobs
        ));
        submit_noops(&queue, plan.drain_jobs).await?;
        let started = Instant::now();
        let running =
            Workers::start(&plan.lab, 1, SIDEKIQ_CONCURRENCY, &environment).await?;
        drained(&queue).await?;
        let sidekiq_style = Throughput {
            workers: 1,
            concurrency: SIDEKIQ_CONCURRENCY,
            jobs: plan.drain_jobs,
            elapsed: started.elapsed(),
        };

        say(&format!(
            "loading {} customers and {} invoices",
            plan.spec.customers, plan.spec.invoices
        ));
        dataset::seed(&database, plan.spec, Existing::Refuse, &mut |_| {}).await?;
        let (mut as_job, mut direct) = (Vec::new(), Vec::new());
        for round in 1..=plan.rounds.max(1) {
            say(&format!("revenue round {round} of {}", plan.rounds.max(1)));
            let started = Instant::now();
            let (id, _) = queue
                .submit(&NewJob::new("revenue_by_customer", "{}").attempts(1))
                .await
                .map_err(failed(QUEUE_FAILED))?;
            drained(&queue).await?;
            as_job.push(started.elapsed());
            let job = queue.get(&id).await.map_err(failed(QUEUE_FAILED))?;
            if job.as_ref().map(|job| job.state) != Some(JobState::Succeeded) {
                return Err(LabError::Disagreement {
                    what: format!("the revenue job did not succeed: {job:?}"),
                });
            }
            let started = Instant::now();
            revenue::by_customer(&database, None).await?;
            direct.push(started.elapsed());
        }
        running.stop().await;
        Ok(JobsBenchReport {
            server: scratch.label.clone(),
            machine: Machine::this(),
            throughput,
            rq,
            pickup,
            sidekiq_style,
            cluster,
            spec: plan.spec,
            as_job,
            direct,
        })
    }
    .await;
    let _ = database.drop().await;
    outcome
}
