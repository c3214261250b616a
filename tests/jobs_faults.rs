//! The job system when something goes away: a MongoDB outage is waited
//! out without using up the jobs' attempts, and a dead worker's jobs are
//! taken back even while every other worker is busy.

mod common;

use std::time::Duration;

use common::worker::BackgroundWorker;
use lab::jobs::results;
use lab::jobs::worker::{self, Step, WorkerOptions};
use lab::jobs::{JobId, JobQueue, JobState, NewJob};
use lab::testing::TestEnv;

/// A queue under a prefix of its own.
async fn queue(env: &TestEnv) -> JobQueue {
    let prefix = format!("faults-{}:", bson::oid::ObjectId::new().to_hex());
    JobQueue::new(env.redis().await, prefix)
}

/// A database on a port where no MongoDB listens: every command fails
/// after a short server selection, as with the server down.
async fn unreachable_database() -> mongodb::Database {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let uri = format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300");
    mongodb::Client::with_uri_str(uri)
        .await
        .unwrap()
        .database("nowhere")
}

async fn state(queue: &JobQueue, id: &JobId) -> JobState {
    queue.get(id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn a_job_that_finds_mongodb_down_waits_for_it_without_using_an_attempt() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    // One attempt only: charged to the outage, it would fail for good.
    let (id, _) = queue
        .submit(&NewJob::new("invoice_status_summary", "{}").attempts(1))
        .await
        .unwrap();
    let options = WorkerOptions {
        concurrency: 1,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(10),
        drills: false,
    };
    let step = worker::step(&queue, &unreachable_database().await, &options)
        .await
        .unwrap();
    assert_eq!(
        step,
        Step::Postponed(id.clone()),
        "a job whose analysis cannot reach MongoDB is given back, not failed"
    );
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts),
        (JobState::WaitingRetry, 0),
        "the outage used no attempt: {job:?}"
    );
    let said = job.error.unwrap_or_default();
    assert!(
        said.contains("MongoDB could not be reached") && said.contains("not counted"),
        "the job says why it waits: {said:?}"
    );
    assert!(
        !said.contains("Topology") && !said.contains('\n'),
        "whoever may read the job sees its error: the driver's error in one line, without \
         its description of the servers: {said:?}"
    );
    assert!(queue.dead_letters().await.unwrap().is_empty());

    // Once MongoDB is back, the job runs (when its wait is over: until
    // then there is nothing to claim) and succeeds on its one attempt.
    let ran = async {
        loop {
            match worker::step(&queue, env.database(), &options)
                .await
                .unwrap()
            {
                Step::Idle => tokio::time::sleep(Duration::from_millis(100)).await,
                step => return step,
            }
        }
    };
    let step = tokio::time::timeout(worker::POSTPONED_FOR * 4, ran)
        .await
        .expect("the job runs again once its wait is over");
    assert_eq!(step, Step::Succeeded(id.clone()));
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1);
    assert!(
        results::visible(env.database(), &job)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_dead_workers_job_is_taken_back_while_the_other_worker_is_busy() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let (orphan, _) = queue.submit(&NewJob::new("noop", "{}")).await.unwrap();
    // A backlog that keeps the living worker busy for about 3 s: it never
    // finds the queue empty while the backlog lasts.
    let mut backlog = Vec::new();
    for _ in 0..30 {
        let job = NewJob::new("sleep", r#"{"ms": 100}"#);
        backlog.push(queue.submit(&job).await.unwrap().0);
    }
    // A worker claims the oldest job and dies at once. Its lease runs out
    // after the living worker has started and is busy, so only a reaping
    // done while busy can take the job back before the backlog is over.
    let dead = queue
        .claim(Duration::from_millis(400))
        .await
        .unwrap()
        .expect("the job is ready");
    assert_eq!(dead.id, orphan);
    let options = WorkerOptions {
        concurrency: 1,
        lease: Duration::from_millis(600),
        poll: Duration::from_millis(10),
        drills: true,
    };
    let running = BackgroundWorker::start(&queue, env.database(), options);
    // Whether the orphan was taken back (run again under a new token, or
    // queued for it) before the backlog ran out.
    let taken_back_first = async {
        loop {
            let job = queue.get(&orphan).await.unwrap().unwrap();
            if job.token != dead.token || job.state != JobState::Running {
                let mut left = 0;
                for id in &backlog {
                    if !state(&queue, id).await.is_final() {
                        left += 1;
                    }
                }
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let left = tokio::time::timeout(Duration::from_secs(60), taken_back_first)
        .await
        .expect("the dead worker's job is taken back");
    running.stop().await;
    assert!(
        left > 0,
        "the dead worker's job was taken back only once the backlog of 30 jobs was done: \
         a busy worker must reap too"
    );
}

#[tokio::test]
async fn a_webhook_deliverer_that_stalled_past_its_hold_cannot_undo_the_delivery() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("noop", "{}").webhook("http://127.0.0.1:9/hook"))
        .await
        .unwrap();
    let claim = queue.claim(Duration::from_secs(30)).await.unwrap().unwrap();
    assert!(queue.complete(&claim).await.unwrap());
    // A deliverer claims the delivery and stalls past its 1 ms hold; a
    // second one claims it again and delivers.
    let stalled = queue
        .claim_delivery(Duration::from_millis(1))
        .await
        .unwrap()
        .expect("the webhook is due");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = queue
        .claim_delivery(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("the stalled delivery came due again");
    assert_eq!((stalled.attempt, second.attempt), (1, 2));
    queue
        .record_delivery(&second, true, None, "HTTP 204")
        .await
        .unwrap();
    // The stalled one answers late, with a failure and a retry.
    queue
        .record_delivery(&stalled, false, Some(Duration::from_millis(1)), "timed out")
        .await
        .unwrap();
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(
        job.webhook_state.as_deref(),
        Some("delivered"),
        "a late answer from an earlier attempt is not recorded"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        queue.claim_delivery(Duration::from_secs(10)).await.unwrap(),
        None,
        "nothing more to deliver: the receiver is not told twice"
    );
}
