//! Graded tests of the reliable claim exercise, shared by `exercises` and
//! `solutions`. Redis is the test's own.

use super::reliable_claim::*;
use lab::redis::AsyncCommands;
use lab::testing::TestEnv;

async fn lists(redis: &mut lab::redis::aio::ConnectionManager) -> (Vec<String>, Vec<String>) {
    let queue: Vec<String> = redis.lrange("queue:reports", 0, -1).await.unwrap();
    let processing: Vec<String> = redis.lrange("processing:reports", 0, -1).await.unwrap();
    (queue, processing)
}

#[tokio::test]
async fn a_claim_moves_the_oldest_ticket_to_the_processing_list() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for ticket in ["a", "b", "c"] {
        enqueue(&mut redis, "reports", ticket).await.unwrap();
    }
    assert_eq!(
        claim(&mut redis, "reports").await.unwrap().as_deref(),
        Some("a")
    );
    let (queue, processing) = lists(&mut redis).await;
    assert_eq!(queue, ["c", "b"]);
    assert_eq!(
        processing,
        ["a"],
        "the claimed ticket is kept until acknowledged"
    );
    assert_eq!(claim(&mut redis, "nothing").await.unwrap(), None);
}

#[tokio::test]
async fn an_acknowledged_ticket_is_gone_for_good() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    enqueue(&mut redis, "reports", "a").await.unwrap();
    let ticket = claim(&mut redis, "reports").await.unwrap().unwrap();
    assert!(ack(&mut redis, "reports", &ticket).await.unwrap());
    assert!(
        !ack(&mut redis, "reports", &ticket).await.unwrap(),
        "only once"
    );
    let (queue, processing) = lists(&mut redis).await;
    assert!(queue.is_empty() && processing.is_empty());
}

#[tokio::test]
async fn tickets_of_a_dead_worker_are_recovered_in_their_order() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for ticket in ["a", "b", "c", "d"] {
        enqueue(&mut redis, "reports", ticket).await.unwrap();
    }
    // A worker claims three and finishes one, then dies.
    let a = claim(&mut redis, "reports").await.unwrap().unwrap();
    claim(&mut redis, "reports").await.unwrap();
    claim(&mut redis, "reports").await.unwrap();
    ack(&mut redis, "reports", &a).await.unwrap();
    assert_eq!(recover(&mut redis, "reports").await.unwrap(), 2);
    let mut order = Vec::new();
    while let Some(ticket) = claim(&mut redis, "reports").await.unwrap() {
        order.push(ticket);
    }
    assert_eq!(order, ["b", "c", "d"], "nothing lost, oldest first");
}

#[tokio::test]
async fn nothing_is_lost_when_many_workers_claim_and_some_die() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 0..30 {
        enqueue(&mut redis, "reports", &format!("t{n}"))
            .await
            .unwrap();
    }
    let mut done = Vec::new();
    let mut round = 0;
    loop {
        let claims = (0..8).map(|_| {
            let mut redis = redis.clone();
            async move { claim(&mut redis, "reports").await.unwrap() }
        });
        let claimed: Vec<String> = lab::futures::future::join_all(claims)
            .await
            .into_iter()
            .flatten()
            .collect();
        if claimed.is_empty() {
            break;
        }
        // Every third worker dies before acknowledging.
        for (n, ticket) in claimed.into_iter().enumerate() {
            if (n + round) % 3 != 0 {
                assert!(ack(&mut redis, "reports", &ticket).await.unwrap());
                done.push(ticket);
            }
        }
        recover(&mut redis, "reports").await.unwrap();
        round += 1;
    }
    done.sort();
    let mut expected: Vec<String> = (0..30).map(|n| format!("t{n}")).collect();
    expected.sort();
    assert_eq!(done, expected, "every ticket done exactly once");
}
