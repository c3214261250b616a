//! Graded tests of the data structures exercise, shared by `exercises` and `solutions`.

use super::structures::*;
use lab::testing::{TestEnv, inspect};

#[tokio::test]
async fn the_email_queue_is_first_in_first_out() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for id in ["inv-1", "inv-2", "inv-3"] {
        enqueue_email(&mut redis, id).await.unwrap();
    }
    assert_eq!(
        inspect::key_type(&mut redis, "queue:emails").await,
        "list",
        "a queue is a Redis list"
    );
    let mut taken = Vec::new();
    while let Some(id) = next_email(&mut redis).await.unwrap() {
        taken.push(id);
    }
    assert_eq!(
        taken,
        ["inv-1", "inv-2", "inv-3"],
        "the oldest invoice is emailed first"
    );
    assert_eq!(
        next_email(&mut redis).await.unwrap(),
        None,
        "an empty queue gives `None`"
    );
}

#[tokio::test]
async fn tags_are_a_set_and_shared_tags_are_their_intersection() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    tag_customer(&mut redis, 1, &["vip", "annual", "vip"])
        .await
        .unwrap();
    tag_customer(&mut redis, 2, &["annual", "vip", "reseller"])
        .await
        .unwrap();
    assert_eq!(
        inspect::key_type(&mut redis, "customer:1:tags").await,
        "set",
        "tags are a Redis set"
    );
    let count: u64 = redis::cmd("SCARD")
        .arg("customer:1:tags")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(count, 2, "a tag given twice is stored once");
    assert_eq!(
        shared_tags(&mut redis, 1, 2).await.unwrap(),
        ["annual", "vip"]
    );
    assert!(
        shared_tags(&mut redis, 1, 3).await.unwrap().is_empty(),
        "nothing is shared with an untagged customer"
    );
}

#[tokio::test]
async fn the_revenue_leaderboard_ranks_customers_by_cents() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    add_revenue(&mut redis, 1, 12_535).await.unwrap();
    add_revenue(&mut redis, 2, 50_000).await.unwrap();
    add_revenue(&mut redis, 1, 40_000).await.unwrap();
    add_revenue(&mut redis, 3, 100).await.unwrap();
    assert_eq!(
        inspect::key_type(&mut redis, "revenue").await,
        "zset",
        "a leaderboard is a sorted set"
    );
    assert_eq!(
        top_customers(&mut redis, 2).await.unwrap(),
        [
            ("customer:1".to_owned(), 52_535),
            ("customer:2".to_owned(), 50_000)
        ],
        "revenue adds up per customer, and the best comes first"
    );
    assert!(top_customers(&mut redis, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn daily_activity_is_one_bit_per_customer() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for customer in [0, 7, 7, 999] {
        mark_active(&mut redis, "2025-06-01", customer)
            .await
            .unwrap();
    }
    mark_active(&mut redis, "2025-06-02", 7).await.unwrap();
    assert_eq!(
        active_count(&mut redis, "2025-06-01").await.unwrap(),
        3,
        "customer 7 counts once"
    );
    assert_eq!(active_count(&mut redis, "2025-06-02").await.unwrap(), 1);
    let size = inspect::bytes(&mut redis, "active:2025-06-01")
        .await
        .unwrap_or_default()
        .len();
    assert_eq!(
        size, 125,
        "1,000 customers take 125 bytes as a bitmap: use SETBIT at the customer's number"
    );
}

#[tokio::test]
async fn unique_visitors_are_counted_by_a_hyperloglog() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for visitor in 0..1_000 {
        record_visitor(&mut redis, "pricing", &format!("visitor-{}", visitor % 400))
            .await
            .unwrap();
    }
    let count = unique_visitors(&mut redis, "pricing").await.unwrap();
    assert!(
        (390..=410).contains(&count),
        "400 different visitors, counted about right: got {count}"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "visitors:pricing").await,
        "string",
        "a HyperLogLog is stored as a string"
    );
    let raw = inspect::bytes(&mut redis, "visitors:pricing")
        .await
        .unwrap_or_default();
    assert!(
        raw.starts_with(b"HYLL"),
        "`visitors:pricing` must be a HyperLogLog (PFADD), not a set or list"
    );
    assert_eq!(unique_visitors(&mut redis, "home").await.unwrap(), 0);
}
