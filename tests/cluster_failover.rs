//! A master of the cluster killed while jobs run: its replica takes over and
//! the jobs go on. Redis Cluster replicates asynchronously, so writes a
//! master acknowledged in its last moments may never reach the replica;
//! the test counts what was lost and checks what the fencing tokens still
//! guarantee: no job finishes twice, no result is shown for a run that did
//! not complete its job, and every job that survived finishes.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::worker::BackgroundWorker;
use lab::jobs::results;
use lab::jobs::worker::WorkerOptions;
use lab::jobs::{JobId, JobQueue, JobState, NewJob, ShardCount};
use lab::testing::{TestEnv, Topology};

const JOBS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_run_is_replaced_and_surviving_jobs_finish_once() {
    let mut env = TestEnv::start_on(Topology::Cluster {
        masters: 3,
        replicas: 1,
    })
    .await;
    let queue = JobQueue::new(env.redis_connection().await, "jobs:")
        .with_shards(ShardCount::new(6).unwrap());
    let mut ids = Vec::with_capacity(JOBS);
    for _ in 0..JOBS {
        let job = NewJob::new("sleep", r#"{"ms": 20}"#).attempts(20);
        ids.push(queue.submit(&job).await.unwrap().0);
    }
    let options = WorkerOptions {
        concurrency: 8,
        lease: Duration::from_secs(3),
        poll: Duration::from_millis(50),
        drills: true,
    };
    let running = BackgroundWorker::start(&queue, env.database(), options);
    // Let a part of the jobs finish, then kill the first master outright.
    let succeeded = |queue: JobQueue, ids: Vec<JobId>| async move {
        let mut done = 0;
        for id in &ids {
            if let Ok(Some(job)) = queue.get(id).await
                && job.state == JobState::Succeeded
            {
                done += 1;
            }
        }
        done
    };
    while succeeded(queue.clone(), ids.clone()).await < JOBS / 4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cluster = env.cluster_mut().expect("a cluster");
    let victim = cluster.nodes()[0].port();
    assert!(cluster.kill(victim), "the first master was running");
    let killed_at = Instant::now();

    // Every job that still exists ends; a job whose record was lost with
    // the master's last writes is counted, not waited for.
    let settled = async {
        loop {
            let mut open = 0;
            for id in &ids {
                match queue.get(id).await {
                    Ok(Some(job)) if !job.state.is_final() => open += 1,
                    Ok(_) => {}
                    Err(_) => open += 1, // the cluster is still failing over
                }
            }
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), settled)
        .await
        .expect("the jobs settle within 90 s of the failover");
    let recovered_in = killed_at.elapsed();
    running.stop().await;

    let mut lost = 0;
    let mut states: HashMap<JobState, usize> = HashMap::new();
    for id in &ids {
        match queue.get(id).await.unwrap() {
            None => lost += 1,
            Some(job) => {
                *states.entry(job.state).or_default() += 1;
                let finishes = queue
                    .events(id, None)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|event| event.data.is_final())
                    .count();
                assert!(finishes <= 1, "job {id} finished {finishes} times");
                if job.state == JobState::Succeeded {
                    let shown = results::visible(env.database(), &job).await.unwrap();
                    assert!(shown.is_some(), "job {id} succeeded without its result");
                }
            }
        }
    }
    // No job has two results marked as its own, whatever was lost.
    let marked = lab::testing::inspect::completed_results_per_job(env.database()).await;
    assert!(marked.values().all(|&count| count == 1), "{marked:?}");
    eprintln!(
        "failover: {JOBS} jobs, master on port {victim} killed after a quarter succeeded; \
         settled {:.1} s later; states {states:?}; job records lost with the master: {lost}",
        recovered_in.as_secs_f64()
    );
    assert_eq!(
        states.get(&JobState::Succeeded).copied().unwrap_or(0) + lost,
        JOBS,
        "every job that survived succeeded: {states:?}, lost {lost}"
    );
}
