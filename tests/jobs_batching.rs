//! A worker claims, renews and finishes jobs in batches: a busy worker
//! makes fewer round trips than it runs jobs, an idle one picks up a lone
//! job when it hears of it (not at its next poll), renewed leases keep a
//! long job its own, and stopping hands the running jobs back.

mod common;

use std::time::Duration;

use bson::doc;
use common::worker::BackgroundWorker;
use lab::jobs::results::{self, RESULTS};
use lab::jobs::worker::WorkerOptions;
use lab::jobs::{Changes, JobId, JobQueue, JobState, NewJob};
use lab::testing::TestEnv;

/// A queue under a prefix of its own: the test Redis may be shared, and
/// the wake-up channel is named by the prefix.
async fn queue(env: &TestEnv) -> JobQueue {
    let prefix = format!("batching-{}:", bson::oid::ObjectId::new().to_hex());
    JobQueue::new(env.redis().await, prefix)
}

fn options(concurrency: usize, lease: Duration, poll: Duration) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        lease,
        poll,
        drills: true,
    }
}

async fn submit_all(queue: &JobQueue, job: &NewJob, count: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(queue.submit(job).await.unwrap().0);
    }
    ids
}

/// Waits (at most `limit`) until every job of `ids` is in a state `done`
/// accepts.
async fn wait_until(
    queue: &JobQueue,
    ids: &[JobId],
    limit: Duration,
    done: impl Fn(JobState) -> bool,
) {
    let all_done = async {
        loop {
            let mut pending = 0;
            for id in ids {
                if !done(queue.get(id).await.unwrap().unwrap().state) {
                    pending += 1;
                }
            }
            if pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(limit, all_done)
        .await
        .expect("the jobs got there in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_runs_sixty_jobs_in_fewer_round_trips_than_jobs() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let ids = submit_all(&queue, &NewJob::new("noop", "{}"), 60).await;
    let redis_log = env.record_redis().await;
    let mongo_log = env.record_mongo();
    let running = BackgroundWorker::start(
        &queue,
        env.database(),
        options(20, Duration::from_secs(30), Duration::from_millis(10)),
    );
    wait_until(&queue, &ids, Duration::from_secs(60), JobState::is_final).await;
    let report = running.stop().await;
    let sent = redis_log.finish().await;
    let written = mongo_log.finish();

    assert_eq!(report.succeeded, 60, "{report:?}");
    assert_eq!(report.failed + report.fenced + report.handed_back, 0);
    // One by one, claiming and completing would be two scripts a job.
    let scripts = sent.count("EVALSHA") + sent.count("EVAL");
    assert!(scripts < 60, "{scripts} scripts for 60 jobs");
    // One by one, saving and marking would be two writes a job.
    let (inserts, updates) = (written.all("insert"), written.all("update"));
    assert!(
        inserts.len() + updates.len() < 60,
        "{} inserts and {} updates for 60 jobs",
        inserts.len(),
        updates.len()
    );
    let runs_marked = |update: &&lab::testing::mongo_log::MongoCommand| {
        update
            .statements()
            .iter()
            .filter_map(|statement| statement.get_document("q").ok())
            .filter_map(|filter| filter.get_document("_id").ok())
            .filter_map(|id| id.get_array("$in").ok())
            .map(Vec::len)
            .sum::<usize>()
    };
    assert!(
        inserts.iter().any(|insert| insert.documents() > 1)
            && updates.iter().any(|update| runs_marked(update) > 1),
        "some insert saves several results and some update marks several: {}",
        written.listing()
    );
    for id in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Succeeded, 1));
        let shown = results::visible(env.database(), &job).await.unwrap();
        assert_eq!(shown, Some(serde_json::json!({})), "{id}");
    }
    let completed = env
        .database()
        .collection::<bson::Document>(RESULTS)
        .count_documents(doc! { "completed": true })
        .await
        .unwrap();
    assert_eq!(completed, 60, "one completed result per job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_picks_up_a_lone_job_when_it_hears_of_it_not_at_its_next_poll() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let ready = Changes::listen_ready(env.redis_url(), queue.prefix()).unwrap();
    // A minute's poll: only the wake-up can start the job within the test.
    let running = BackgroundWorker::start_woken(
        &queue,
        env.database(),
        options(4, Duration::from_secs(30), Duration::from_secs(60)),
        ready,
    );
    let mut redis = env.redis().await;
    let channel = queue.keys().ready_channel();
    let subscribed = async {
        loop {
            let (_, subscribers): (String, u64) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut redis)
                .await
                .unwrap();
            if subscribers > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), subscribed)
        .await
        .expect("the worker subscribes to queued jobs");
    // Long enough for the worker to have found the queue empty and gone
    // idle (a job found by its first look would prove nothing).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let ids = submit_all(&queue, &NewJob::new("noop", "{}"), 1).await;
    wait_until(&queue, &ids, Duration::from_secs(10), |state| {
        state == JobState::Succeeded
    })
    .await;
    let report = running.stop().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_keep_a_job_that_outlasts_its_lease_with_its_worker() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    // One attempt: a lease taken back would fail the job for good.
    let job = NewJob::new("sleep", r#"{"ms": 1200}"#).attempts(1);
    let ids = submit_all(&queue, &job, 2).await;
    // The idle slots reap every 10 ms, so a lease that ran out would be
    // taken back at once.
    let running = BackgroundWorker::start(
        &queue,
        env.database(),
        options(3, Duration::from_millis(300), Duration::from_millis(10)),
    );
    wait_until(&queue, &ids, Duration::from_secs(30), JobState::is_final).await;
    let report = running.stop().await;
    assert_eq!((report.succeeded, report.fenced), (2, 0), "{report:?}");
    for id in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Succeeded, 1));
    }
}

#[tokio::test]
async fn heartbeats_for_many_claims_renew_the_held_ones_and_report_the_lost() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    submit_all(&queue, &NewJob::new("noop", "{}"), 3).await;
    let claims = queue.claim_many(Duration::from_secs(1), 3).await.unwrap();
    assert_eq!(claims.len(), 3);
    queue.cancel(&claims[1].id).await.unwrap();

    let kept = queue
        .heartbeat_many(&claims, Duration::from_secs(600))
        .await
        .unwrap();

    assert_eq!(kept, [true, false, true]);
    let mut redis = env.redis().await;
    for claim in [&claims[0], &claims[2]] {
        let lease_end: f64 = redis::cmd("ZSCORE")
            .arg(queue.keys().shard_of(claim.id.as_str()).leases())
            .arg(&claim.id)
            .query_async(&mut redis)
            .await
            .unwrap();
        let job = queue.get(&claim.id).await.unwrap().unwrap();
        assert!(
            lease_end >= (job.updated_ms + 500_000) as f64,
            "the lease now ends ten minutes on: {lease_end} vs {}",
            job.updated_ms
        );
    }
    assert!(
        !queue.complete(&claims[1]).await.unwrap(),
        "the cancelled job's claim stays void"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_hands_back_every_running_job_without_using_an_attempt() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let ids = submit_all(&queue, &NewJob::new("sleep", r#"{"ms": 60000}"#), 3).await;
    let running = BackgroundWorker::start(
        &queue,
        env.database(),
        options(3, Duration::from_secs(30), Duration::from_millis(10)),
    );
    wait_until(&queue, &ids, Duration::from_secs(30), |state| {
        state == JobState::Running
    })
    .await;

    let report = running.stop().await;

    assert_eq!(report.handed_back, 3, "{report:?}");
    for id in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    }
}

#[tokio::test]
async fn a_result_completed_but_left_unmarked_is_marked_by_reconciliation_and_a_fenced_one_is_not()
{
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let lease = Duration::from_secs(30);
    queue
        .submit(&NewJob::new("revenue_by_customer", "{}"))
        .await
        .unwrap();
    queue
        .submit(&NewJob::new("revenue_by_customer", "{}"))
        .await
        .unwrap();
    let done = queue.claim(lease).await.unwrap().unwrap();
    let fenced = queue
        .claim(Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(queue.reap().await.unwrap(), 1);
    let answer = serde_json::json!({"rows": 1});
    // Both runs saved; the first completed its job, then its worker "died"
    // before marking; the second lost its lease, so its completion is refused.
    results::save_many(env.database(), &[(&done, &answer), (&fenced, &answer)])
        .await
        .unwrap();
    assert!(queue.complete(&done).await.unwrap());
    assert!(!queue.complete(&fenced).await.unwrap());
    let marked = |id: JobId| {
        let results = env.database().collection::<bson::Document>(RESULTS);
        async move {
            results
                .count_documents(doc! { "job_id": id, "completed": true })
                .await
                .unwrap()
        }
    };
    assert_eq!(marked(done.id.clone()).await, 0);
    assert_eq!(results::reconcile(env.database(), &queue).await.unwrap(), 1);
    assert_eq!(marked(done.id.clone()).await, 1);
    assert_eq!(
        marked(fenced.id.clone()).await,
        0,
        "a fenced run's result is never the job's"
    );
    assert_eq!(
        results::kept(env.database(), &done.id).await.unwrap(),
        Some(answer)
    );
    assert_eq!(results::reconcile(env.database(), &queue).await.unwrap(), 0);
}

#[tokio::test]
async fn a_result_saved_twice_is_kept_once_but_one_another_index_refuses_is_an_error() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    for _ in 0..2 {
        queue
            .submit(&NewJob::new("revenue_by_customer", "{}"))
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(30);
    let first = queue.claim(lease).await.unwrap().unwrap();
    let second = queue.claim(lease).await.unwrap().unwrap();
    let answer = serde_json::json!({"rows": 1});
    results::save_many(env.database(), &[(&first, &answer)])
        .await
        .unwrap();
    results::save_many(env.database(), &[(&first, &answer)])
        .await
        .expect("a run whose result is there already (its answer lost) keeps the one saved");

    // A unique index of the operator's own refuses the second run's result.
    let stored = env.database().collection::<bson::Document>(RESULTS);
    lab::testing::unique_index(&stored, doc! { "refused_by": 1 }).await;
    let refused = results::save_many(env.database(), &[(&second, &answer)]).await;
    assert!(
        refused.is_err(),
        "a result another unique index refused is not saved: {refused:?}"
    );
    let saved = |id: JobId| {
        let results = env.database().collection::<bson::Document>(RESULTS);
        async move {
            results
                .count_documents(doc! { "job_id": id })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        saved(second.id.clone()).await,
        0,
        "nothing of the refused run"
    );
    assert_eq!(
        saved(first.id.clone()).await,
        1,
        "the first run's result, once"
    );
}
