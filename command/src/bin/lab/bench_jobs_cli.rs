//! The figures of `lab bench jobs`: throughput beside RQ's, pick-up
//! latency, a run in Sidekiq's manner, and revenue as a job beside the
//! same pipeline run directly; measured by `lab_command::bench::jobs`.

use std::process::ExitCode;

use lab::Config;

use crate::say;

/// Runs `lab bench jobs` as `plan` says and prints what it measured.
pub async fn figures(
    config: &Config,
    plan: &lab_command::bench::jobs::JobsBenchPlan,
) -> anyhow::Result<ExitCode> {
    use lab_command::bench::jobs::{
        RqOutcome, SIDEKIQ_PUBLISHED, SIDEKIQ_RATE, TARGET_RATE, TARGET_TIMES_RQ,
    };
    use lab_command::bench::revenue::median;
    let report = lab_command::bench::jobs::run(config, plan, &say).await?;
    let ms = |time: std::time::Duration| time.as_secs_f64() * 1000.0;
    let line = |who: &str, run: &lab_command::bench::jobs::Throughput| {
        println!(
            "  {who:<6} {} worker(s) x {:>2} slots: {:>8.0} jobs/s  ({} jobs in {:.2} s)",
            run.workers,
            run.concurrency,
            run.rate(),
            run.jobs,
            run.elapsed.as_secs_f64()
        );
    };
    println!("server:            {}", report.server);
    println!("machine:           {}", report.machine);
    println!("no-op jobs, first submission to last completion:");
    for run in &report.throughput {
        line("lab", run);
    }
    match &report.rq {
        RqOutcome::Measured { throughput, failed } => {
            line("RQ", throughput);
            if *failed > 0 {
                println!("  (RQ failed {failed} of its jobs)");
            }
        }
        RqOutcome::Skipped(why) => println!("  RQ     skipped: {why}"),
    }
    if let Some(lab) = report.compared() {
        let reached = |yes: bool| if yes { "reached" } else { "NOT reached" };
        match report.times_rq() {
            Some(times) => println!(
                "  lab / RQ with {} workers: {times:.1}x (target {TARGET_TIMES_RQ:.0}x: {})",
                lab.workers,
                reached(times >= TARGET_TIMES_RQ)
            ),
            None => println!("  lab / RQ: not measured"),
        }
        println!(
            "  target {TARGET_RATE:.0} jobs/s with {} workers: {} ({:.0} jobs/s)",
            lab.workers,
            reached(lab.rate() >= TARGET_RATE),
            lab.rate()
        );
    }
    for (masters, run) in &report.cluster {
        line(&format!("{masters}m"), run);
    }
    if !report.cluster.is_empty() {
        println!(
            "  (Nm: a Redis Cluster of N masters, no replicas, the queue in 2N shards; every process shares this machine's cores)"
        );
    }
    println!(
        "pick-up latency:   p50 {:.2} ms, p99 {:.2} ms  ({} jobs, idle workers, Redis clock)",
        ms(report.pickup.p50),
        ms(report.pickup.p99),
        report.pickup.requests
    );
    let drained = &report.sidekiq_style;
    println!(
        "Sidekiq's manner:  {} jobs submitted, then drained by 1 worker x {} slots: {:.0} jobs/s ({:.2} s from the worker's start)",
        drained.jobs,
        drained.concurrency,
        drained.rate(),
        drained.elapsed.as_secs_f64()
    );
    println!(
        "  beside the {SIDEKIQ_PUBLISHED} ({:.2}x of it)",
        drained.rate() / SIDEKIQ_RATE
    );
    println!(
        "  hardware differs: this run on {}; Sidekiq's figure is from its author's machine, not this one; Sidekiq keeps no job results, the lab saves each in MongoDB",
        report.machine
    );
    let show = |times: &[std::time::Duration]| {
        let all: Vec<String> = times.iter().map(|t| format!("{:.0}", ms(*t))).collect();
        format!(
            "median {:>8.1} ms   (rounds: {} ms)",
            ms(median(times)),
            all.join(", ")
        )
    };
    println!(
        "revenue by customer over {} invoices:",
        report.spec.invoices
    );
    println!("  as a job:        {}", show(&report.as_job));
    println!("  directly:        {}", show(&report.direct));
    Ok(ExitCode::SUCCESS)
}
