//! The job queue's state machine against a real Redis: claims, leases and
//! fencing, retries and the dead-letter list, idempotent submission, and
//! cancellation racing completion.

mod common;

use std::time::Duration;

use common::worker::BackgroundWorker;
use lab::jobs::keys::ShardCount;
use lab::jobs::results;
use lab::jobs::worker::{self, Step};
use lab::jobs::{Claim, FailOutcome, JobId, JobQueue, JobState, NewJob};
use lab::testing::TestEnv;

const LEASE: Duration = Duration::from_secs(30);
const OPTIONS: worker::WorkerOptions = worker::WorkerOptions {
    concurrency: 1,
    lease: LEASE,
    poll: Duration::from_millis(10),
    drills: false,
};

/// The queue in one shard on a single Redis, as the lab runs it, and in six
/// on a cluster, two per master.
async fn queue(env: &TestEnv) -> JobQueue {
    let shards = if env.is_cluster() { 6 } else { 1 };
    JobQueue::new(env.redis_connection().await, "jobs:")
        .with_shards(ShardCount::new(shards).expect("a valid shard count"))
}

async fn submit(queue: &JobQueue, max_attempts: u32) -> JobId {
    queue
        .submit(&NewJob::new("revenue_by_customer", "{}").attempts(max_attempts))
        .await
        .unwrap()
        .0
}

/// Claims the next job with a one-millisecond lease, "pauses" past it, and
/// has the lease reaped: the claim returned is one that lost its job.
async fn claim_and_stall(queue: &JobQueue) -> Claim {
    let stalled = queue
        .claim(Duration::from_millis(1))
        .await
        .unwrap()
        .expect("a job is ready");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(queue.reap().await.unwrap(), 1, "the lease ran out");
    stalled
}

async fn state(queue: &JobQueue, id: &JobId) -> JobState {
    queue.get(id).await.unwrap().unwrap().state
}

lab::on_each_topology! {
async fn a_job_is_queued_claimed_and_completed_once(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 3).await;
    assert_eq!(state(&queue, &id).await, JobState::Queued);
    let claim = queue.claim(LEASE).await.unwrap().expect("a job is ready");
    assert_eq!((claim.id.as_str(), claim.attempt), (id.as_str(), 1));
    assert_eq!(claim.kind, "revenue_by_customer");
    assert_eq!(state(&queue, &id).await, JobState::Running);
    assert!(queue.heartbeat(&claim, LEASE).await.unwrap());
    assert!(queue.complete(&claim).await.unwrap());
    assert_eq!(state(&queue, &id).await, JobState::Succeeded);
    assert!(!queue.complete(&claim).await.unwrap(), "only once");
    assert_eq!(queue.claim(LEASE).await.unwrap(), None, "nothing is left");
    assert_eq!(queue.get(&JobId::generate()).await.unwrap(), None);
}

async fn thirty_workers_claiming_at_once_take_each_of_twenty_jobs_once(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let mut submitted = Vec::new();
    for _ in 0..20 {
        submitted.push(submit(&queue, 1).await);
    }
    let claims = futures_util::future::join_all((0..30).map(|_| queue.claim(LEASE))).await;
    let mut claimed: Vec<JobId> = claims
        .into_iter()
        .filter_map(|claim| claim.unwrap().map(|claim| claim.id))
        .collect();
    assert_eq!(claimed.len(), 20, "each job claimed exactly once");
    claimed.sort();
    let mut expected = submitted.clone();
    expected.sort();
    assert_eq!(claimed, expected);
}

async fn a_hundred_submissions_with_one_idempotency_key_make_one_job(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let request = NewJob::new("invoice_status_summary", "{}").idempotency_key("request-42");
    let submissions =
        futures_util::future::join_all((0..100).map(|_| queue.submit(&request))).await;
    let answers: Vec<(JobId, bool)> = submissions.into_iter().map(Result::unwrap).collect();
    let first = &answers[0].0;
    assert!(answers.iter().all(|(id, _)| id == first), "one id for all");
    assert_eq!(answers.iter().filter(|(_, created)| *created).count(), 1);
    assert!(queue.claim(LEASE).await.unwrap().is_some());
    assert_eq!(
        queue.claim(LEASE).await.unwrap(),
        None,
        "one job in the queue"
    );
}

async fn a_worker_that_lost_its_lease_cannot_complete_and_the_job_runs_again(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 3).await;
    let stalled = claim_and_stall(&queue).await;
    assert_eq!(state(&queue, &id).await, JobState::Queued);
    let second = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(second.attempt, 2);
    assert!(
        second.token > stalled.token,
        "every claim gets a larger token"
    );
    assert!(!queue.heartbeat(&stalled, LEASE).await.unwrap());
    assert!(
        !queue.complete(&stalled).await.unwrap(),
        "the stalled worker's completion is refused"
    );
    assert_eq!(
        queue
            .fail(&stalled, "late", true, Duration::ZERO)
            .await
            .unwrap(),
        FailOutcome::Fenced
    );
    assert!(queue.complete(&second).await.unwrap());
    assert_eq!(state(&queue, &id).await, JobState::Succeeded);
}

async fn retryable_failures_retry_until_the_last_attempt_then_dead_letter(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 3).await;
    for attempt in 1..=3 {
        let claim = queue.claim(LEASE).await.unwrap().expect("ready again");
        assert_eq!(claim.attempt, attempt);
        let outcome = queue
            .fail(&claim, "MongoDB timed out", true, Duration::ZERO)
            .await
            .unwrap();
        if attempt < 3 {
            assert_eq!(outcome, FailOutcome::WillRetry);
            assert_eq!(state(&queue, &id).await, JobState::WaitingRetry);
        } else {
            assert_eq!(outcome, FailOutcome::Failed);
        }
    }
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Failed, 3));
    assert_eq!(job.error.as_deref(), Some("MongoDB timed out"));
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert!(queue.requeue(&id).await.unwrap());
    assert!(queue.dead_letters().await.unwrap().is_empty());
    let again = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempt), (id.as_str(), 1));
    assert!(
        !queue.requeue(&id).await.unwrap(),
        "not on the list any more"
    );
}

async fn a_retry_waits_for_its_backoff(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    submit(&queue, 3).await;
    let claim = queue.claim(LEASE).await.unwrap().unwrap();
    queue
        .fail(&claim, "busy", true, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        queue.claim(LEASE).await.unwrap(),
        None,
        "not ready before its backoff is over"
    );
}

async fn bad_parameters_fail_at_once_without_retries_or_dead_letter(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 5).await;
    let claim = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(
        queue
            .fail(&claim, "n: must be from 1 to 1000", false, Duration::ZERO)
            .await
            .unwrap(),
        FailOutcome::Failed
    );
    assert_eq!(state(&queue, &id).await, JobState::Failed);
    assert!(queue.dead_letters().await.unwrap().is_empty());
    assert_eq!(queue.claim(LEASE).await.unwrap(), None);
}

async fn a_lease_lost_on_the_last_attempt_ends_in_the_dead_letter_list(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 1).await;
    claim_and_stall(&queue).await;
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(
        job.error.as_deref(),
        Some("the worker lost its lease on the last attempt")
    );
    assert_eq!(queue.dead_letters().await.unwrap(), [id]);
}

async fn cancel_racing_completion_always_ends_in_one_legal_state(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    for _ in 0..100 {
        let id = submit(&queue, 1).await;
        let claim = queue.claim(LEASE).await.unwrap().unwrap();
        let (completed, cancelled) = tokio::join!(queue.complete(&claim), queue.cancel(&id));
        let (completed, before_cancel) = (completed.unwrap(), cancelled.unwrap());
        let end = state(&queue, &id).await;
        match (completed, before_cancel) {
            (true, Some(JobState::Succeeded)) => assert_eq!(end, JobState::Succeeded),
            (false, Some(JobState::Running)) => assert_eq!(end, JobState::Cancelled),
            other => panic!("an impossible outcome {other:?}, ending {end:?}"),
        }
    }
    assert_eq!(queue.cancel(&JobId::generate()).await.unwrap(), None);
}

// A worker step: analysis, result, completion.

async fn a_worker_step_runs_the_analysis_and_its_result_is_shown(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 3}"#))
        .await
        .unwrap();
    let step = worker::step(&queue, env.database(), &OPTIONS)
        .await
        .unwrap();
    assert_eq!(step, Step::Succeeded(id.clone()));
    let job = queue.get(&id).await.unwrap().unwrap();
    let shown = results::visible(env.database(), &job)
        .await
        .unwrap()
        .unwrap();
    let expected = lab::analysis::top::top_customers(env.database(), 3)
        .await
        .unwrap();
    let names: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = expected
        .iter()
        .map(|row| row.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        worker::step(&queue, env.database(), &OPTIONS)
            .await
            .unwrap(),
        Step::Idle
    );
}

async fn bad_parameters_fail_the_job_at_the_first_attempt(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 0}"#).attempts(5))
        .await
        .unwrap();
    let step = worker::step(&queue, env.database(), &OPTIONS)
        .await
        .unwrap();
    assert_eq!(step, Step::Failed(id.clone(), FailOutcome::Failed));
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1);
    assert_eq!(
        job.error.as_deref(),
        Some("n: 0 customers cannot be listed; ask for 1 to 1000")
    );
    assert_eq!(results::visible(env.database(), &job).await.unwrap(), None);
}

async fn only_the_run_that_completed_has_its_result_shown(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap();
    // A first run claims the job and stalls past its lease.
    let stalled = claim_and_stall(&queue).await;
    // A second run does the job.
    assert_eq!(
        worker::step(&queue, env.database(), &OPTIONS)
            .await
            .unwrap(),
        Step::Succeeded(id.clone())
    );
    // The first run wakes up, saves what it computed, and tries to complete.
    results::save(
        env.database(),
        &stalled,
        &serde_json::json!({"stale": true}),
    )
    .await
    .unwrap();
    assert!(!queue.complete(&stalled).await.unwrap());
    let job = queue.get(&id).await.unwrap().unwrap();
    let shown = results::visible(env.database(), &job)
        .await
        .unwrap()
        .unwrap();
    assert!(shown.is_array(), "the second run's summary, not {shown}");
    assert_eq!(shown.as_array().unwrap().len(), 3, "three statuses");
}

async fn a_worker_with_four_slots_runs_every_job_and_stops_when_asked(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let queue = queue(&env).await;
    let kinds = [
        ("revenue_by_customer", "{}"),
        (
            "revenue_by_month",
            r#"{"from": "2025-01-01", "to": "2026-01-01"}"#,
        ),
        ("top_customers", r#"{"n": 5}"#),
        ("overdue_invoices", r#"{"as_of": "2025-12-01"}"#),
        ("invoice_status_summary", "{}"),
    ];
    let mut ids = Vec::new();
    for round in 0..4 {
        for (kind, params) in kinds {
            let (id, _) = queue.submit(&NewJob::new(kind, params)).await.unwrap();
            ids.push((id, round));
        }
    }
    let options = worker::WorkerOptions {
        concurrency: 4,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(10),
        drills: false,
    };
    let running = BackgroundWorker::start(&queue, env.database(), options);
    // Wait for the queue to drain, by asking it (no fixed sleep); a worker
    // that stopped working fails the test instead of hanging it.
    let drained = async {
        loop {
            let mut done = 0;
            for (id, _) in &ids {
                if state(&queue, id).await.is_final() {
                    done += 1;
                }
            }
            if done == ids.len() {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), drained)
        .await
        .expect("the worker finishes the 20 jobs");
    let report = running.stop().await;
    assert_eq!(report.succeeded, 20, "{report:?}");
    assert_eq!(report.failed + report.fenced + report.handed_back, 0);
    for (id, _) in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert!(
            results::visible(env.database(), &job)
                .await
                .unwrap()
                .is_some()
        );
    }
}

async fn a_job_handed_back_is_queued_again_without_using_an_attempt(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await;
    let id = submit(&queue, 1).await;
    let claim = queue.claim(LEASE).await.unwrap().unwrap();
    assert!(queue.release(&claim).await.unwrap());
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    assert!(
        !queue.complete(&claim).await.unwrap(),
        "the old claim is void"
    );
    let again = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempt, 1, "the only attempt is still there");
}

async fn finished_jobs_expire_after_the_retention_period_and_dead_letters_stay(topology) {
    let env = TestEnv::start_on(topology).await;
    let queue = queue(&env).await.with_retention(Duration::from_secs(60));
    let redis = env.redis_connection().await;
    let keys = queue.keys().clone();
    let ttl_of = |id: JobId| {
        let mut redis = redis.clone();
        let key = keys.shard_of(id.as_str()).job(id.as_str());
        async move {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut redis)
                .await
                .unwrap();
            ttl
        }
    };
    let done = submit(&queue, 1).await;
    let claim = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(ttl_of(done.clone()).await, -1, "kept while it runs");
    queue.complete(&claim).await.unwrap();
    let ttl = ttl_of(done).await;
    assert!(
        ttl > 55_000 && ttl <= 60_000,
        "succeeded: expires in a minute ({ttl} ms)"
    );

    let cancelled = submit(&queue, 1).await;
    queue.cancel(&cancelled).await.unwrap();
    assert!(ttl_of(cancelled).await > 0, "cancelled jobs expire too");

    let dead = submit(&queue, 1).await;
    let claim = queue.claim(LEASE).await.unwrap().unwrap();
    queue
        .fail(&claim, "boom", true, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(ttl_of(dead).await, -1, "a dead letter is kept");
}

async fn a_panicking_job_fails_alone_and_the_worker_carries_on(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let queue = queue(&env).await;
    let (panicking, _) = queue
        .submit(&NewJob::new("panic", "{}").attempts(1))
        .await
        .unwrap();
    let (healthy, _) = queue
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap();
    let options = worker::WorkerOptions {
        concurrency: 1,
        drills: true,
        ..OPTIONS
    };
    let running = BackgroundWorker::start(&queue, env.database(), options);
    let both_over = async {
        while !(state(&queue, &panicking).await.is_final()
            && state(&queue, &healthy).await.is_final())
        {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), both_over)
        .await
        .expect("both jobs end");
    let report = running.stop().await;
    assert_eq!((report.succeeded, report.failed), (1, 1), "{report:?}");
    let failed = queue.get(&panicking).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.error.unwrap().contains("panicked"));
    assert_eq!(state(&queue, &healthy).await, JobState::Succeeded);
}
}
