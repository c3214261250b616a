//! Graded tests of the pipelines exercise, shared by `exercises` and
//! `solutions`. The answers are checked against the lab's own reports and
//! against a snapshot recorded from the answer key on the test data set.

use super::pipelines::*;
use lab::analysis::{monthly, revenue, status, top};
use lab::billing::Total;
use lab::bson::oid::ObjectId;
use lab::testing::TestEnv;

#[tokio::test]
async fn revenue_of_one_customer_is_the_sum_of_their_invoices() {
    let env = TestEnv::start_seeded().await;
    let ranking = revenue::by_customer(env.database(), None).await.unwrap();
    for row in ranking.iter().take(3) {
        assert_eq!(
            revenue_of(env.database(), row.customer_id).await.unwrap(),
            Some(row.total_revenue)
        );
    }
    assert_eq!(
        revenue_of(env.database(), ObjectId::new()).await.unwrap(),
        None,
        "a customer without invoices has no revenue row"
    );
}

#[tokio::test]
async fn invoices_are_counted_per_status() {
    let env = TestEnv::start_seeded().await;
    let expected: Vec<(String, u64)> = status::status_summary(env.database())
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.status, row.invoices))
        .collect();
    assert_eq!(invoices_per_status(env.database()).await.unwrap(), expected);
}

#[tokio::test]
async fn monthly_revenue_covers_the_year_in_calendar_order() {
    let env = TestEnv::start_seeded().await;
    let range = monthly::DateRange::parse("2025-01-01", "2026-01-01").unwrap();
    let expected: Vec<(String, Total)> = monthly::by_month(env.database(), range)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.month, row.revenue))
        .collect();
    assert_eq!(
        monthly_revenue(env.database(), 2025).await.unwrap(),
        expected
    );
    assert!(
        monthly_revenue(env.database(), 1999)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn top_customers_come_with_their_names() {
    let env = TestEnv::start_seeded().await;
    let expected: Vec<(String, Total)> = top::top_customers(env.database(), 4)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.name.unwrap_or_default(), row.revenue))
        .collect();
    assert_eq!(top_customers(env.database(), 4).await.unwrap(), expected);
}

#[tokio::test]
async fn every_answer_matches_the_recorded_one() {
    let env = TestEnv::start_seeded().await;
    let db = env.database();
    let first = revenue::by_customer(db, None).await.unwrap()[0].customer_id;
    let answers = serde_json::json!({
        "revenue_of_the_best_customer": revenue_of(db, first).await.unwrap(),
        "invoices_per_status": invoices_per_status(db).await.unwrap(),
        "monthly_revenue_2025": monthly_revenue(db, 2025).await.unwrap(),
        "top_customers": top_customers(db, 3).await.unwrap(),
        "best_sellers": best_sellers(db, 5).await.unwrap(),
    });
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("billing_pipelines", answers);
    });
}
