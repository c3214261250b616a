//! The job system with real `lab worker` processes killed with SIGKILL:
//! every job still finishes exactly once, and a job that takes its worker
//! down every time ends on the dead-letter list.

use std::process::Stdio;
use std::time::Duration;

use bson::doc;
use lab::jobs::results::RESULTS;
use lab::jobs::{EventData, JobId, JobQueue, JobState, NewJob, ShardCount};
use lab::testing::TestEnv;
use tokio::process::{Child, Command};

/// A `lab worker` process on the test's services, with drills on and a
/// short lease so a killed worker's jobs come back quickly.
fn spawn_worker(env: &TestEnv, concurrency: u32, lease_ms: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["worker", "--concurrency"])
        .arg(concurrency.to_string())
        .arg("--lease-ms")
        .arg(lease_ms.to_string())
        .envs(env.variables())
        .env("LAB_JOB_SHARDS", shards(env).get().to_string())
        .env("LAB_JOB_DRILLS", "1")
        .env("LAB_LOG", "error")
        .env("LAB_HOME", env!("CARGO_TARGET_TMPDIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the lab program starts")
}

/// One shard on a single Redis, as the lab runs it; six on a cluster.
fn shards(env: &TestEnv) -> ShardCount {
    ShardCount::new(if env.is_cluster() { 6 } else { 1 }).expect("a valid shard count")
}

async fn queue(env: &TestEnv) -> JobQueue {
    JobQueue::new(env.redis_connection().await, lab::jobs::PREFIX).with_shards(shards(env))
}

lab::on_each_topology! {
[runtime(flavor = "multi_thread", worker_threads = 2)]
async fn killing_workers_during_two_hundred_jobs_loses_none_and_finishes_none_twice(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let mut ids = Vec::new();
    for _ in 0..200 {
        let job = NewJob::new("sleep", r#"{"ms": 150}"#).attempts(10);
        ids.push(queue.submit(&job).await.unwrap().0);
    }
    let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&env, 4, 1000)).collect();
    let mut kills = 0;
    let everything_finished = async {
        loop {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let stats = queue.stats().await.unwrap();
            if stats.queued + stats.running + stats.waiting_retry == 0 {
                break;
            }
            // SIGKILL the oldest worker in the middle of its jobs, and
            // start another: no chance to hand anything back.
            if kills < 8 {
                let mut victim = workers.remove(0);
                victim.start_kill().unwrap();
                victim.wait().await.unwrap();
                kills += 1;
                workers.push(spawn_worker(&env, 4, 1000));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(180), everything_finished)
        .await
        .expect("every job finishes within three minutes");
    assert!(
        kills >= 3,
        "the workers were killed while there was work: {kills}"
    );

    let mut retried = 0;
    for id in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded, "{id}: {job:?}");
        if job.attempts > 1 {
            retried += 1;
        }
        let finishes = queue
            .events(id, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.data.is_final())
            .count();
        assert_eq!(finishes, 1, "job {id} finished once");
    }
    assert!(retried > 0, "some jobs were running when their worker died");
    // Exactly one completed result per job, whatever runs were cut short:
    // a worker killed between completing jobs and marking their results
    // leaves them for an idle worker's reconciliation to mark.
    let results = env.database().collection::<bson::Document>(RESULTS);
    let mut completed = 0;
    for _ in 0..100 {
        completed = results
            .count_documents(doc! { "completed": true })
            .await
            .unwrap();
        if completed >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(completed, 200);
    let per_job = lab::testing::inspect::completed_results_per_job(env.database()).await;
    assert!(per_job.values().all(|&count| count == 1));
    assert_eq!(per_job.len(), 200);
    for mut worker in workers {
        worker.start_kill().unwrap();
        worker.wait().await.unwrap();
    }
}

[runtime(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_crashes_its_worker_every_time_ends_on_the_dead_letter_list(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("crash", "{}").attempts(3))
        .await
        .unwrap();
    let (healthy, _) = queue
        .submit(&NewJob::new("sleep", r#"{"ms": 10}"#))
        .await
        .unwrap();
    let mut crashes = 0;
    // One job per worker: a crash takes down every job its process runs,
    // so a poison job with company would dead-letter its neighbours too.
    let dead_lettered = async {
        let mut worker = spawn_worker(&env, 1, 300);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // A crashed worker is replaced, as a supervisor would.
            if let Some(status) = worker.try_wait().unwrap() {
                assert!(!status.success(), "only the crash drill ends a worker");
                crashes += 1;
                worker = spawn_worker(&env, 1, 300);
            }
            // The last attempt's lease runs out after its worker died; a
            // live worker's reap moves it to the dead-letter list.
            let over = |job: &JobId| {
                let queue = queue.clone();
                let job = job.clone();
                async move { queue.get(&job).await.unwrap().unwrap().state.is_final() }
            };
            if over(&id).await && over(&healthy).await {
                break;
            }
        }
        worker.start_kill().unwrap();
        worker.wait().await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(120), dead_lettered)
        .await
        .expect("the crashing job is dead-lettered");
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Failed, 3));
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert_eq!(crashes, 3, "one crashed worker per attempt");
    let states: Vec<JobState> = queue
        .events(&id, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.data {
            EventData::State { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    use JobState::{Failed, Queued, Running};
    assert_eq!(
        states,
        [Queued, Running, Queued, Running, Queued, Running, Failed],
        "three runs, each lost with its worker"
    );
    assert_eq!(
        queue.get(&healthy).await.unwrap().unwrap().state,
        JobState::Succeeded,
        "the other job was not harmed"
    );
}
}
