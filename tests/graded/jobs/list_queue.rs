//! Graded tests of the list queue exercise, shared by `exercises` and
//! `solutions`. Redis is the test's own.

use std::collections::BTreeSet;

use super::list_queue::*;
use lab::redis::AsyncCommands;
use lab::testing::TestEnv;

fn ticket(n: usize) -> Ticket {
    Ticket {
        id: format!("job-{n}"),
        report: "revenue".to_owned(),
    }
}

#[tokio::test]
async fn tickets_are_queued_as_json_on_the_list_and_marked_queued() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    assert_eq!(enqueue(&mut redis, "reports", &ticket(1)).await.unwrap(), 1);
    assert_eq!(enqueue(&mut redis, "reports", &ticket(2)).await.unwrap(), 2);
    let stored: Vec<String> = redis.lrange("queue:reports", 0, -1).await.unwrap();
    assert_eq!(
        stored.len(),
        2,
        "both tickets are on the list queue:reports"
    );
    let parsed: Ticket = serde_json::from_str(&stored[1]).expect("each ticket is JSON");
    assert_eq!(parsed, ticket(1), "LPUSH puts the newest on the left");
    assert_eq!(
        status(&mut redis, "job-1").await.unwrap().as_deref(),
        Some("queued")
    );
}

#[tokio::test]
async fn the_oldest_ticket_is_claimed_first_and_marked_running() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 1..=3 {
        enqueue(&mut redis, "reports", &ticket(n)).await.unwrap();
    }
    assert_eq!(claim(&mut redis, "reports").await.unwrap(), Some(ticket(1)));
    assert_eq!(claim(&mut redis, "reports").await.unwrap(), Some(ticket(2)));
    assert_eq!(
        status(&mut redis, "job-2").await.unwrap().as_deref(),
        Some("running")
    );
    assert_eq!(
        status(&mut redis, "job-3").await.unwrap().as_deref(),
        Some("queued")
    );
}

#[tokio::test]
async fn an_empty_queue_gives_none_and_an_unknown_job_has_no_status() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    assert_eq!(claim(&mut redis, "reports").await.unwrap(), None);
    assert_eq!(status(&mut redis, "job-404").await.unwrap(), None);
}

#[tokio::test]
async fn workers_claiming_at_once_get_each_ticket_once() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 0..40 {
        enqueue(&mut redis, "reports", &ticket(n)).await.unwrap();
    }
    let claims = (0..50).map(|_| {
        let mut redis = redis.clone();
        async move { claim(&mut redis, "reports").await.unwrap() }
    });
    let claimed: Vec<Ticket> = lab::futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .collect();
    let ids: BTreeSet<String> = claimed.iter().map(|t| t.id.clone()).collect();
    assert_eq!(claimed.len(), 40, "every ticket claimed");
    assert_eq!(ids.len(), 40, "no ticket claimed twice");
}
