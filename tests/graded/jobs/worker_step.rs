//! Graded tests of the worker step exercise, shared by `exercises` and
//! `solutions`: the test data set in MongoDB, a job queue on the test's
//! own Redis.
//!
//! Besides what `work_one` answers, the tests look at what the step leaves
//! behind: the job's state in the queue (failed at once, or waiting for a
//! retry after its backoff, or succeeded), the results in MongoDB (one per
//! run, under the job's id and the claim's fencing token, none for a job
//! that did not succeed), and the order of saving and completing.

use std::time::Duration;

use super::worker_step::*;
use lab::bson::{Document, doc};
use lab::futures::TryStreamExt;
use lab::jobs::kinds::Analysis;
use lab::jobs::{JobId, JobQueue, JobState, NewJob, results};
use lab::mongodb::Database;
use lab::redis::aio::ConnectionManager;
use lab::testing::{TestEnv, inspect, restricted_redis, stoppable_redis};
use redis::AsyncCommands;
use serde_json::{Value, json};

const LEASE: Duration = Duration::from_secs(30);

async fn queue(env: &TestEnv) -> JobQueue {
    JobQueue::new(env.redis().await, lab::jobs::PREFIX)
}

/// Runs `work_one` on a task of its own, so that a panic in it is reported
/// as a failure of the step (`when` says what the step was given) rather
/// than as the student's own panic message.
async fn step(queue: &JobQueue, database: &Database, when: &str) -> Outcome {
    let (queue, database) = (queue.clone(), database.clone());
    let task = tokio::spawn(async move { work_one(&queue, &database, LEASE).await });
    match task.await {
        Ok(outcome) => outcome.expect("work_one returned an error"),
        Err(error) => panic!(
            "work_one panicked {when} ({error}): a worker must not die on a bad job; parameters \
             that cannot be read are bad parameters like any other (read them with \
             `unwrap_or(Value::Null)` and let Analysis::parse refuse them), and the job is failed \
             with queue.fail"
        ),
    }
}

/// Queues a job that runs long next to a few Redis calls: twenty years of
/// revenue by month, 240 aggregations one after the other.
async fn submit_long_job(queue: &JobQueue) -> JobId {
    let (id, _) = queue
        .submit(&NewJob::new(
            "revenue_by_month",
            r#"{"from": "2006-01-01", "to": "2026-01-01"}"#,
        ))
        .await
        .unwrap();
    id
}

/// Every stored result, as MongoDB holds them.
async fn stored_results(database: &Database) -> Vec<Document> {
    database
        .collection::<Document>(results::RESULTS)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// One field of job `id`'s hash in Redis, as the queue's scripts wrote it.
async fn job_field(env: &TestEnv, id: &JobId, field: &str) -> Option<u64> {
    let mut redis = env.redis().await;
    let value: Option<String> = redis
        .hget(
            queue(env)
                .await
                .keys()
                .shard_of(id.as_str())
                .job(id.as_str()),
            field,
        )
        .await
        .unwrap();
    value.and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn an_empty_queue_is_idle() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    assert_eq!(
        work_one(&queue, env.database(), LEASE)
            .await
            .expect("work_one returned an error"),
        Outcome::Idle,
        "when `queue.claim(lease)` gives `None` no job is ready: work_one answers `Outcome::Idle`"
    );
    assert_eq!(
        inspect::keys(&mut env.redis().await).await,
        Vec::<String>::new(),
        "an idle step changes nothing: with no job to claim, work_one must leave Redis empty"
    );
    assert!(
        stored_results(env.database()).await.is_empty(),
        "an idle step has no result to save: nothing may be written to `job_results`"
    );
    // A Redis that refuses the claim (its user may not run ZRANGE, with
    // which the queue's claim looks for ready jobs): an error, not an empty
    // queue.
    let server = stoppable_redis().await;
    let refusing = JobQueue::new(
        restricted_redis(&server, &["-zrange"]).await,
        lab::jobs::PREFIX,
    );
    let outcome = work_one(&refusing, env.database(), LEASE).await;
    assert!(
        outcome.is_err(),
        "Redis refused the claim (its user may not read the queue), yet work_one \
         answered {outcome:?}: a failed claim is not an empty queue; pass the error on with `?`, \
         so a worker whose Redis is failing says so instead of idling as if no job were waiting"
    );
}

/// Job `id`'s state and, while it runs, how many milliseconds are left of
/// its lease by Redis's clock (the one the queue's scripts use), read
/// together.
async fn state_and_lease_left(
    redis: &mut ConnectionManager,
    queue: &JobQueue,
    id: &JobId,
) -> (Option<String>, Option<i64>) {
    let (state, until): (Option<String>, Option<i64>) = lab::redis::cmd("HMGET")
        .arg(queue.keys().shard_of(id.as_str()).job(id.as_str()))
        .arg("state")
        .arg("lease_until_ms")
        .query_async(redis)
        .await
        .unwrap();
    let (seconds, micros): (i64, i64) = lab::redis::cmd("TIME").query_async(redis).await.unwrap();
    (
        state,
        until.map(|until| until - (seconds * 1000 + micros / 1000)),
    )
}

#[tokio::test]
async fn a_job_runs_and_its_result_is_the_analysis() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 3}"#))
        .await
        .unwrap();
    let outcome = step(
        &queue,
        env.database(),
        "on a job of top_customers with n = 3",
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Done(id.clone()),
        "a job whose analysis ran, whose result was saved and whose completion the queue accepted \
         is `Outcome::Done` with the job's id"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_eq!(
        job.state,
        JobState::Succeeded,
        "after a successful run the job must be succeeded: complete it with \
         `queue.complete(&claim)` once its result is saved"
    );
    let expected = Analysis::parse("top_customers", &json!({"n": 3}))
        .unwrap()
        .run(env.database())
        .await
        .unwrap();
    let stored = stored_results(env.database()).await;
    assert_eq!(
        stored.len(),
        1,
        "one run saves one result: `job_results` must hold exactly one document after the step, \
         it holds {stored:?}; save it once, with `results::save(database, &claim, &result)`"
    );
    assert_eq!(
        (
            stored[0].get_str("job_id").ok(),
            stored[0].get_i64("token").ok()
        ),
        (Some(id.as_str()), Some(job.token as i64)),
        "a result is saved under the job's id and the fencing token of the claim that computed \
         it, so that only the run that completed the job has its result shown: save with \
         `results::save(database, &claim, &result)`, with the claim `queue.claim` gave"
    );
    let shown = results::visible(env.database(), &job).await.unwrap();
    assert_eq!(
        shown,
        Some(expected),
        "the result shown for the job must be what the analysis answered, saved as it is: \
         `analysis.run(database)` gives the JSON to pass to `results::save`"
    );
    // What the step left in MongoDB, as recorded from the answer key. The
    // mark `results::mark_completed` may add is the worker's business, not
    // the exercise's, so it is left out.
    let mut snapshot: Vec<Value> = Vec::new();
    for mut document in stored {
        document.remove("completed");
        snapshot.push(serde_json::to_value(&document).unwrap());
    }
    lab::graded_snapshot!(
        "jobs_worker_step_stored_result",
        snapshot,
        "the step must leave one document in `job_results`: the job's id, the claim's token, the \
         analysis's rows as `result`, and the time it was saved (what `results::save` writes)",
        {
            "[]._id" => "[id]",
            "[].job_id" => "[job id]",
            "[].token" => "[token]",
            "[].saved_at" => "[time]",
        }
    );
    let mut redis = env.redis().await;
    let strays: Vec<String> = inspect::keys(&mut redis)
        .await
        .into_iter()
        .filter(|key| !key.starts_with(lab::jobs::PREFIX))
        .collect();
    assert!(
        strays.is_empty(),
        "the job's state lives in the queue; work_one must not leave keys of its own in Redis, \
         found {strays:?}"
    );

    // The lease the step claims with, looked at while a longer analysis
    // (240 aggregations) runs under it.
    let long = submit_long_job(&queue).await;
    let mut redis = env.redis().await;
    let watch = async {
        loop {
            match state_and_lease_left(&mut redis, &queue, &long).await {
                (Some(state), left) if state == "running" => return left,
                (Some(state), _) if state != "queued" => return None,
                _ => tokio::task::yield_now().await,
            }
        }
    };
    let (_, left) = tokio::join!(
        step(&queue, env.database(), "on a job of revenue_by_month"),
        watch
    );
    let left = left.expect(
        "the test's harness saw the job over before it saw it running (240 aggregations ran \
         faster than one look at Redis); this is not the answer's fault, run the test again",
    );
    // Seen at the first look after the claim: most of the lease is left
    // (half of it leaves room for a slow machine).
    let lease_ms = LEASE.as_millis() as i64;
    assert!(
        (lease_ms / 2..=lease_ms).contains(&left),
        "work_one was given a lease of {LEASE:?}, yet just after the claim its lease had {left} ms \
         left: claim with `queue.claim(lease)`, the Duration as it is given (the queue turns it \
         into milliseconds itself). A lease far too long leaves the job of a worker that dies \
         unclaimed for hours; one far too short lets another worker take a job that is running"
    );
}

#[tokio::test]
async fn bad_parameters_fail_the_job_at_once_without_retry() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 0}"#).attempts(5))
        .await
        .unwrap();
    let recording = env.record_mongo();
    let outcome = step(
        &queue,
        env.database(),
        "on a job of top_customers with n = 0",
    )
    .await;
    let sent = recording.finish();
    let Outcome::Rejected(rejected, message) = outcome else {
        panic!(
            "a job with n = 0 has bad parameters: `Analysis::parse` refuses it, and work_one must \
             answer `Outcome::Rejected(id, message)`, it answered {outcome:?}"
        );
    };
    assert_eq!(
        rejected, id,
        "`Outcome::Rejected` carries the id of the job that was rejected"
    );
    let refusal = Analysis::parse("top_customers", &json!({"n": 0}))
        .err()
        .map(|error| error.to_string())
        .expect("Analysis::parse refuses n = 0");
    assert!(
        message.contains(&refusal),
        "the rejection's message must carry the error of `Analysis::parse`, which names the \
         parameter at fault ({refusal:?}; words of your own around it are fine), got {message:?}"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Failed, 1),
        "a job whose parameters are wrong fails at once, at its first attempt: retrying would not \
         help; fail it as not retryable with `queue.fail(&claim, &message, false, Duration::ZERO)`"
    );
    assert_eq!(
        job.error.as_deref(),
        Some(message.as_str()),
        "the failed job keeps the message that says which parameter was wrong: pass the error of \
         `Analysis::parse` to `queue.fail`"
    );
    assert!(
        queue.dead_letters().await.unwrap().is_empty(),
        "a job with bad parameters fails at once and is not a dead letter: the dead-letter list is \
         for jobs that failed after their last retry (fail it with retryable false)"
    );
    assert!(
        !sent.used("aggregate"),
        "the parameters are checked before anything runs: a job with bad parameters must not run \
         its analysis, and work_one sent {}",
        sent.listing()
    );
    assert!(
        stored_results(env.database()).await.is_empty(),
        "a rejected job has no result: nothing may be saved in `job_results` for it (the message \
         belongs to `queue.fail`, not to `results::save`)"
    );

    // Parameters that are not even JSON are bad parameters too.
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", "{n: three}"))
        .await
        .unwrap();
    let outcome = step(&queue, env.database(), "on a job whose params are not JSON").await;
    assert!(
        matches!(&outcome, Outcome::Rejected(rejected, _) if *rejected == id),
        "a job whose params are not JSON cannot run either: work_one must reject it \
         (`Outcome::Rejected`) like any job with bad parameters, it answered {outcome:?}"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Failed, 1),
        "a job whose params are not JSON fails at once, at its first attempt, not retryable"
    );
    // A kind whose parameters are all optional: `{}` is a valid request for
    // it, so only params read as `Value::Null` are refused. Empty text is
    // no JSON either.
    for params in ["not json", ""] {
        let (id, _) = queue
            .submit(&NewJob::new("invoice_status_summary", params))
            .await
            .unwrap();
        let outcome = step(
            &queue,
            env.database(),
            &format!("on a job of invoice_status_summary whose params are {params:?}"),
        )
        .await;
        assert!(
            matches!(&outcome, Outcome::Rejected(rejected, _) if *rejected == id),
            "a job of invoice_status_summary whose params are {params:?} must be rejected \
             (`Outcome::Rejected`), work_one answered {outcome:?}: unreadable params are not the \
             same as no params, and empty params are unreadable too (\"\" is not JSON), not a \
             request for the defaults. Reading them as `{{}}` runs the job on whatever a client \
             sent by mistake for every kind whose parameters are all optional \
             (invoice_status_summary, revenue_by_customer over every customer); read them with \
             `unwrap_or(Value::Null)`, which `Analysis::parse` refuses for every kind, and give \
             no meaning of their own to empty params"
        );
    }
    // A kind no worker knows (a producer's typo): as bad as bad parameters.
    let (id, _) = queue
        .submit(&NewJob::new("astrology", "{}").attempts(5))
        .await
        .unwrap();
    let outcome = step(&queue, env.database(), "on a job of an unknown kind").await;
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert!(
        matches!(&outcome, Outcome::Rejected(rejected, _) if *rejected == id)
            && (job.state, job.attempts) == (JobState::Failed, 1),
        "a job of the kind \"astrology\", which `Analysis::parse` does not know, fails at once, \
         at its first attempt, not retryable, like any job with bad parameters: work_one \
         answered {outcome:?} and the job is {:?} after {} attempts. Handed back (released) \
         instead, it is claimed and handed back by every worker for ever",
        job.state,
        job.attempts
    );
}

#[tokio::test]
async fn a_job_cancelled_while_it_runs_is_fenced_and_shows_no_result() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    // Twenty years of revenue by month: 240 aggregations one after the
    // other, a long run next to the few Redis calls that cancel it.
    let id = submit_long_job(&queue).await;
    // Cancel as soon as the job is running, while the step is at work.
    let cancel = async {
        loop {
            if queue.get(&id).await.unwrap().unwrap().state == JobState::Running {
                queue.cancel(&id).await.unwrap();
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    let (outcome, ()) = tokio::join!(work_one(&queue, env.database(), LEASE), cancel);
    let outcome = outcome.expect("work_one returned an error");
    assert_eq!(
        outcome,
        Outcome::Fenced(id.clone()),
        "the job was cancelled while the step ran, so its claim is no longer the job's and \
         `queue.complete(&claim)` answers false (the fencing check): work_one must then answer \
         `Outcome::Fenced`, not `Done`; look at what complete answers"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_eq!(
        job.state,
        JobState::Cancelled,
        "a claim that lost its job cannot change it: the cancelled job must stay cancelled"
    );
    assert_eq!(
        results::visible(env.database(), &job).await.unwrap(),
        None,
        "a cancelled job shows no result: the result a fenced run saved is never the one shown"
    );
    let kept = results::kept(env.database(), &id).await.unwrap();
    assert!(
        kept.is_none(),
        "a fenced run's result must never be marked completed: `results::kept` (how a job's \
         result is found once the job has expired from Redis) found the cancelled run's result; \
         the run is the job's only once `queue.complete(&claim)` answered true, so \
         `results::mark_completed`, if you call it, comes after that, never before"
    );
}

#[tokio::test]
async fn a_claim_that_lost_its_lease_cannot_complete_the_job() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    let id = submit_long_job(&queue).await;
    // The step claims with a lease of zero (the queue makes it a
    // millisecond): it is a worker paused past its lease from the start.
    // While it computes, the lease is reaped and a second worker claims the
    // job, with a larger fencing token, and saves its result: all a few
    // Redis and MongoDB calls, next to the step's 240 aggregations.
    let second = async {
        loop {
            if queue.get(&id).await.unwrap().unwrap().state == JobState::Running {
                // The shortest lease the queue gives is a millisecond.
                while queue.reap().await.unwrap() == 0 {
                    tokio::task::yield_now().await;
                }
                let second = queue.claim(LEASE).await.unwrap();
                if let Some(second) = &second {
                    results::save(env.database(), second, &json!({"run": "second"}))
                        .await
                        .unwrap();
                }
                return second;
            }
            tokio::task::yield_now().await;
        }
    };
    let (outcome, second) = tokio::join!(work_one(&queue, env.database(), Duration::ZERO), second);
    let outcome = outcome.expect("work_one returned an error");
    let second = second.expect("the reaped job is queued again and claimed by a second worker");
    assert_eq!(
        outcome,
        Outcome::Fenced(id.clone()),
        "the step's lease ran out and another worker claimed the job while the step computed: \
         its token no longer holds the job, `queue.complete(&claim)` answers false (the fencing \
         check), and work_one must answer `Outcome::Fenced`; trust what complete answers, \
         a cancellation is not the only way to lose a job"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_eq!(
        (job.state, job.token),
        (JobState::Running, second.token),
        "a late worker is harmless: a claim that lost its lease cannot change the job, which \
         must still be running under the second worker's claim"
    );
    assert!(
        queue.complete(&second).await.unwrap(),
        "the second worker, which holds the job, completes it"
    );
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    let left: Vec<(Option<String>, Option<i64>)> = stored_results(env.database())
        .await
        .iter()
        .map(|stored| {
            (
                stored.get_str("job_id").ok().map(str::to_owned),
                stored.get_i64("token").ok(),
            )
        })
        .collect();
    assert_eq!(
        results::visible(env.database(), &job).await.unwrap(),
        Some(json!({"run": "second"})),
        "a job may run twice but has one result: the one saved under the token that completed \
         it; the late run's result must be saved under its own claim's token \
         (`results::save(database, &claim, &result)`) so that it is never the one shown, and a \
         fenced run must leave the other runs' results alone: the second worker saved its \
         result (token {}) while the step ran, and after the step `job_results` holds (job id, \
         token) {left:?}",
        second.token
    );

    // A completion Redis refuses (its user may not run PEXPIRE, which the
    // queue's completion runs to give the finished job its retention) is
    // no lost claim: nobody knows whether the job is complete.
    let server = stoppable_redis().await;
    let refusing = JobQueue::new(
        restricted_redis(&server, &["-pexpire"]).await,
        lab::jobs::PREFIX,
    );
    refusing
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap();
    let outcome = work_one(&refusing, env.database(), LEASE).await;
    assert!(
        outcome.is_err(),
        "Redis refused the completion (an error, not an answer of false), yet work_one answered \
         {outcome:?}: only `Ok(false)` from `queue.complete` means the claim was taken away \
         (`Outcome::Fenced`); an error means nobody knows whether the job is complete, so pass \
         it on with `?` and let the worker's caller decide"
    );
}

#[tokio::test]
async fn a_failing_analysis_is_retried_after_a_backoff() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    // An invoice whose customer is not an ObjectId: the revenue report's rows
    // cannot be read, so the analysis fails (as it would if MongoDB were
    // briefly unreachable), although its parameters are fine.
    env.database()
        .collection::<Document>(lab::billing::collections::INVOICES)
        .insert_one(doc! { "customer_id": "nobody", "total_amount": 12 })
        .await
        .unwrap();

    let (last, _) = queue
        .submit(&NewJob::new("revenue_by_customer", "{}").attempts(1))
        .await
        .unwrap();
    let outcome = step(&queue, env.database(), "on a job whose analysis fails").await;
    assert_eq!(
        outcome,
        Outcome::Failed(last.clone()),
        "a job whose analysis failed is `Outcome::Failed` with the job's id"
    );
    let job = queue.get(&last).await.unwrap().expect("the job is kept");
    assert_eq!(
        job.state,
        JobState::Failed,
        "a job that failed on its last attempt is failed"
    );
    // The error the analysis answers on this data, as the test computes it.
    let why = Analysis::parse("revenue_by_customer", &json!({}))
        .unwrap()
        .run(env.database())
        .await
        .err()
        .map(|error| error.to_string())
        .expect("the revenue report fails on an invoice whose customer is not an ObjectId");
    assert!(
        job.error
            .as_deref()
            .is_some_and(|error| error.contains(&why)),
        "the failed job must keep the analysis's error, which says why it failed ({why:?}; \
         words of your own around it are fine), the job's error is {:?}: whoever looks at a \
         failed job or the dead-letter list needs to know whether an invoice is bad or MongoDB \
         was down before requeueing it; pass `error.to_string()` to `queue.fail`, not a fixed \
         text",
        job.error
    );
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        std::slice::from_ref(&last),
        "a run that fails for a reason that may pass is retryable: after its last attempt the job \
         goes to the dead-letter list, where someone can look at it and requeue it; fail it with \
         retryable true (`queue.fail(&claim, &error, true, RETRY_AFTER)`)"
    );

    let (retried, _) = queue
        .submit(&NewJob::new("revenue_by_customer", "{}").attempts(3))
        .await
        .unwrap();
    let outcome = step(&queue, env.database(), "on a job whose analysis fails").await;
    assert_eq!(
        outcome,
        Outcome::Failed(retried.clone()),
        "a job whose analysis failed is `Outcome::Failed` with the job's id"
    );
    let job = queue.get(&retried).await.unwrap().expect("the job is kept");
    assert_eq!(
        (job.state, job.attempts),
        (JobState::WaitingRetry, 1),
        "a run that fails for a reason that may pass is retried: with attempts left the job must \
         be waiting_retry; fail it with retryable true (`queue.fail(&claim, &error, true, \
         RETRY_AFTER)`)"
    );
    let failed_at = job_field(&env, &retried, "updated_ms").await;
    let retry_at = job_field(&env, &retried, "retry_at_ms").await;
    let waits = retry_at
        .zip(failed_at)
        .map(|(at, from)| at.saturating_sub(from));
    assert_eq!(
        waits,
        Some(RETRY_AFTER.as_millis() as u64),
        "a retry waits for its backoff, so that a failing database is not hammered: the job must \
         be ready again RETRY_AFTER after it failed, it waits {waits:?} ms; pass `RETRY_AFTER` as \
         the backoff of `queue.fail`"
    );
    assert!(
        stored_results(env.database()).await.is_empty(),
        "a run whose analysis failed has no result: nothing may be saved in `job_results`"
    );

    // Redis refuses the failure: the dead-letter list's key holds a string,
    // so the script of `queue.fail` stops at its RPUSH (WRONGTYPE).
    queue.cancel(&retried).await.unwrap();
    let (refused, _) = queue
        .submit(&NewJob::new("revenue_by_customer", "{}").attempts(1))
        .await
        .unwrap();
    let dead = queue.keys().shard_of(refused.as_str()).dead();
    let () = env.redis().await.set(&dead, "not a list").await.unwrap();
    let outcome = work_one(&queue, env.database(), LEASE).await;
    assert!(
        outcome.is_err(),
        "Redis refused to record the failure (`queue.fail` answered an error), yet work_one \
         answered {outcome:?}: pass the error of `queue.fail` on with `?` (`StepError::Queue`), \
         as for every call to the queue; a worker that ignores it reports a failure the queue \
         never recorded, and the job stays running until its lease runs out"
    );
}

#[tokio::test]
async fn a_result_that_cannot_be_saved_does_not_complete_the_job() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap();
    // MongoDB refuses the save: a unique index on the job's id, already
    // held by a document, stands in for a write that fails.
    let stored = env.database().collection::<Document>(results::RESULTS);
    lab::testing::unique_index(&stored, doc! { "job_id": 1 }).await;
    stored
        .insert_one(doc! { "job_id": &id, "token": -1_i64, "result": "in the way" })
        .await
        .unwrap();
    let outcome = work_one(&queue, env.database(), LEASE).await;
    let job = queue.get(&id).await.unwrap().expect("the job is kept");
    assert_ne!(
        job.state,
        JobState::Succeeded,
        "the result could not be saved, yet work_one completed the job: save the result with \
         `results::save` before `queue.complete` (and stop at its error, with `?`); completing \
         first leaves a succeeded job whose result is missing when the save fails or the worker \
         dies in between"
    );
    assert!(
        !matches!(outcome, Ok(Outcome::Done(_))),
        "the result could not be saved, so the job is not done: work_one must not answer \
         `Outcome::Done`, it answered {outcome:?}"
    );
    assert!(
        job.state != JobState::Queued && job.attempts == 1,
        "the result could not be saved, and work_one left the job {:?} with {} attempts: a \
         save that fails is part of the attempt. Handed back with queue.release (or postponed), \
         the attempt is not counted, so a result that can never be saved (this one breaks a \
         unique index) makes the workers run the analysis again and again for ever, and the job \
         never fails. Return the error (`?`): the job stays claimed until its lease runs out, \
         and the attempt counts when it is taken back",
        job.state,
        job.attempts
    );
    assert_ne!(
        job.state,
        JobState::Failed,
        "the result could not be saved, and work_one failed the job for good: a save can fail \
         for a moment (MongoDB restarting), which is no reason to give the job up with no retry. \
         Return the error (`?`), and the job is taken back and run again when its lease ends; \
         or, if you fail it yourself, fail it as retryable"
    );
}
