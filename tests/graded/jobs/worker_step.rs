//! Graded tests of the worker step exercise, shared by `exercises` and
//! `solutions`: the test data set in MongoDB, a job queue on the test's
//! own Redis.

use std::time::Duration;

use super::worker_step::*;
use lab::jobs::{JobQueue, JobState, NewJob, results};
use lab::testing::TestEnv;

const LEASE: Duration = Duration::from_secs(30);

async fn queue(env: &TestEnv) -> JobQueue {
    JobQueue::new(env.redis().await, lab::jobs::PREFIX)
}

#[tokio::test]
async fn an_empty_queue_is_idle() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    assert_eq!(
        work_one(&queue, env.database(), LEASE).await.unwrap(),
        Outcome::Idle
    );
}

#[tokio::test]
async fn a_job_runs_and_its_result_is_the_analysis() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 3}"#))
        .await
        .unwrap();
    assert_eq!(
        work_one(&queue, env.database(), LEASE).await.unwrap(),
        Outcome::Done(id.clone())
    );
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    let shown = results::visible(env.database(), &job)
        .await
        .unwrap()
        .expect("the result was saved under the claim's token");
    let expected = lab::analysis::top::top_customers(env.database(), 3)
        .await
        .unwrap();
    let names: Vec<&serde_json::Value> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["name"])
        .collect();
    let expected: Vec<serde_json::Value> = expected
        .iter()
        .map(|row| serde_json::json!(row.name))
        .collect();
    let expected: Vec<&serde_json::Value> = expected.iter().collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn bad_parameters_fail_the_job_at_once_without_retry() {
    let env = TestEnv::start().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("top_customers", r#"{"n": 0}"#).attempts(5))
        .await
        .unwrap();
    let Outcome::Rejected(rejected, message) =
        work_one(&queue, env.database(), LEASE).await.unwrap()
    else {
        panic!("a job with n = 0 is rejected");
    };
    assert_eq!(rejected, id);
    assert!(
        message.starts_with("n:"),
        "the message names the parameter: {message}"
    );
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Failed, 1));
    assert!(
        queue.dead_letters().await.unwrap().is_empty(),
        "not a dead letter"
    );
}

#[tokio::test]
async fn a_job_cancelled_while_it_runs_is_fenced_and_shows_no_result() {
    let env = TestEnv::start_seeded().await;
    let queue = queue(&env).await;
    let (id, _) = queue
        .submit(&NewJob::new("revenue_by_customer", "{}"))
        .await
        .unwrap();
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
    assert_eq!(outcome.unwrap(), Outcome::Fenced(id.clone()));
    let job = queue.get(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(results::visible(env.database(), &job).await.unwrap(), None);
}
