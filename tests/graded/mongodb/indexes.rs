//! Graded tests of the indexes exercise, shared by `exercises` and `solutions`.

use super::indexes::*;
use lab::analysis::plan::explain_find;
use lab::analysis::revenue;
use lab::bson::{Document, doc};
use lab::testing::TestEnv;

#[tokio::test]
async fn the_unpaid_invoices_query_answers_correctly() {
    let env = TestEnv::start_seeded().await;
    let busiest = revenue::by_customer(env.database(), None).await.unwrap()[0].customer_id;
    let found = unpaid_invoices_of(env.database(), busiest).await.unwrap();
    let expected = env
        .database()
        .collection::<Document>("invoices")
        .count_documents(doc! { "customer_id": busiest, "status": { "$ne": "paid" } })
        .await
        .unwrap();
    assert!(
        expected > 0,
        "the test data gives this customer unpaid invoices"
    );
    assert_eq!(found.len() as u64, expected);
    assert!(
        found
            .windows(2)
            .all(|pair| pair[0].get_datetime("invoice_date").unwrap()
                <= pair[1].get_datetime("invoice_date").unwrap()),
        "oldest first"
    );
}

#[tokio::test]
async fn with_the_index_the_query_reads_only_what_it_returns() {
    let env = TestEnv::start_seeded().await;
    let busiest = revenue::by_customer(env.database(), None).await.unwrap()[0].customer_id;
    let filter = doc! { "customer_id": busiest, "status": { "$in": ["pending", "overdue"] } };
    let before = explain_find(env.database(), "invoices", filter.clone())
        .await
        .unwrap();
    assert!(
        before.docs_examined > before.returned,
        "without it, paid invoices are read and thrown away: {before}"
    );
    let name = index_unpaid_lookup(env.database()).await.unwrap();
    index_unpaid_lookup(env.database())
        .await
        .expect("creating the same index again is not an error");
    let after = explain_find(env.database(), "invoices", filter)
        .await
        .unwrap();
    assert!(after.uses_index(&name), "the query uses {name}: {after}");
    assert_eq!(
        after.docs_examined, after.returned,
        "every invoice read is returned: {after}"
    );
}

#[tokio::test]
async fn a_unique_index_refuses_a_second_customer_with_the_same_email() {
    let env = TestEnv::start().await;
    let customers = env.database().collection::<Document>("customers");
    customers
        .insert_one(doc! { "name": "Ada", "email": "ada@example.com" })
        .await
        .unwrap();
    make_emails_unique(env.database()).await.unwrap();
    let refused = customers
        .insert_one(doc! { "name": "Ada again", "email": "ada@example.com" })
        .await
        .expect_err("a second ada@example.com must be refused");
    assert!(is_duplicate(&refused), "{refused}");
    customers
        .insert_one(doc! { "name": "Grace", "email": "grace@example.com" })
        .await
        .expect("other emails are still welcome");
    let other = lab::mongodb::error::Error::custom("a lost connection");
    assert!(!is_duplicate(&other), "other errors are not duplicates");
}
