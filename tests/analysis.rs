//! The reports, run on the test data set and checked against answers
//! computed independently in Rust from the same invoices.

use std::collections::HashMap;

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use futures_util::TryStreamExt;
use lab::analysis::monthly::{self, DateRange};
use lab::analysis::{AnalysisError, overdue, plan, revenue, status, top};
use lab::billing::collections;
use lab::billing::{Invoice, Total};
use lab::testing::{TEST_DATA, TestEnv};

async fn invoices(env: &TestEnv) -> Vec<Invoice> {
    collections::invoices(env.database())
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn date(text: &str) -> DateTime {
    DateTime::parse_rfc3339_str(text).unwrap()
}

#[tokio::test]
async fn revenue_per_customer_agrees_with_the_sum_computed_in_rust() {
    let env = TestEnv::start_seeded().await;
    let in_database = revenue::by_customer(env.database(), None).await.unwrap();
    let in_rust = revenue::by_customer_in_rust(env.database(), None)
        .await
        .unwrap();
    assert_eq!(in_database, in_rust);
    let counted: u64 = in_database.iter().map(|row| row.invoices).sum();
    assert_eq!(counted, TEST_DATA.invoices as u64);
    assert!(
        in_database
            .windows(2)
            .all(|pair| pair[0].total_revenue >= pair[1].total_revenue),
        "the highest revenue comes first"
    );

    let mut expected: HashMap<ObjectId, Total> = HashMap::new();
    for invoice in invoices(&env).await {
        let entry = expected.entry(invoice.customer_id).or_default();
        *entry = *entry + invoice.total_amount;
    }
    let one = in_database[3].customer_id;
    let just_one = revenue::by_customer(env.database(), Some(one))
        .await
        .unwrap();
    assert_eq!(just_one.len(), 1);
    assert_eq!(just_one[0].total_revenue, expected[&one]);
    assert_eq!(
        revenue::by_customer_in_rust(env.database(), Some(one))
            .await
            .unwrap(),
        just_one
    );
    let nobody = revenue::by_customer(env.database(), Some(ObjectId::new()))
        .await
        .unwrap();
    assert!(nobody.is_empty(), "a customer without invoices has no row");
}

#[tokio::test]
async fn monthly_revenue_adds_up_to_the_invoices_in_the_range() {
    let env = TestEnv::start_seeded().await;
    let range = DateRange::parse("2025-01-01", "2025-07-01").unwrap();
    let months = monthly::by_month(env.database(), range).await.unwrap();
    let names: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
    assert_eq!(
        names,
        [
            "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"
        ]
    );
    let mut expected: HashMap<String, (Total, u64)> = HashMap::new();
    for invoice in invoices(&env).await {
        let when = invoice.invoice_date;
        if when >= range.from() && when < range.to() {
            let month = when.try_to_rfc3339_string().unwrap()[..7].to_owned();
            let entry = expected.entry(month).or_default();
            entry.0 = entry.0 + invoice.total_amount;
            entry.1 += 1;
        }
    }
    for month in &months {
        assert_eq!(
            (month.revenue, month.invoices),
            expected[&month.month],
            "{}",
            month.month
        );
    }
}

#[tokio::test]
async fn top_customers_carry_their_names_and_the_revenue_ranking() {
    let env = TestEnv::start_seeded().await;
    let ranking = revenue::by_customer(env.database(), None).await.unwrap();
    let best = top::top_customers(env.database(), 5).await.unwrap();
    assert_eq!(best.len(), 5);
    let customers = collections::customers(env.database());
    for (row, ranked) in best.iter().zip(&ranking) {
        assert_eq!(row.customer_id, ranked.customer_id);
        assert_eq!(row.revenue, ranked.total_revenue);
        let customer = customers
            .find_one(doc! { "_id": row.customer_id })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.name.as_deref(), Some(customer.name.as_str()));
        assert_eq!(row.email.as_deref(), Some(customer.email.as_str()));
    }

    customers
        .delete_one(doc! { "_id": best[0].customer_id })
        .await
        .unwrap();
    let after = top::top_customers(env.database(), 5).await.unwrap();
    assert_eq!(after[0].customer_id, best[0].customer_id);
    assert_eq!(
        after[0].name, None,
        "a customer who is gone still has their revenue, without a name"
    );
}

#[tokio::test]
async fn the_overdue_report_counts_unpaid_invoices_past_their_due_date() {
    let env = TestEnv::start_seeded().await;
    let as_of = date("2025-12-01T00:00:00Z");
    let report = overdue::overdue(env.database(), as_of, 10).await.unwrap();

    let unpaid_and_late: Vec<Invoice> = invoices(&env)
        .await
        .into_iter()
        .filter(|i| i.status.as_str() != "paid" && i.due_date < as_of)
        .collect();
    assert!(report.count > 10, "the test data has overdue invoices");
    assert_eq!(report.count, unpaid_and_late.len() as u64);
    let total: Total = unpaid_and_late.iter().map(|i| i.total_amount).sum();
    assert_eq!(report.total, total);

    assert_eq!(report.invoices.len(), 10, "the listing honours the limit");
    let day = 86_400_000;
    for row in &report.invoices {
        let due = row.due_date.timestamp_millis();
        let days = as_of.timestamp_millis().div_euclid(day) - due.div_euclid(day);
        assert_eq!(row.days_overdue, days, "{}", row.invoice_id);
        assert!(row.customer_name.is_some());
    }
    assert!(
        report
            .invoices
            .windows(2)
            .all(|pair| pair[0].days_overdue >= pair[1].days_overdue),
        "the longest overdue comes first"
    );

    let long_ago = overdue::overdue(env.database(), date("2000-01-01T00:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(long_ago.count, 0);
    assert_eq!(long_ago.total, Total::ZERO);
    assert!(long_ago.invoices.is_empty());
}

#[tokio::test]
async fn the_status_summary_accounts_for_every_invoice() {
    let env = TestEnv::start_seeded().await;
    let summary = status::status_summary(env.database()).await.unwrap();
    let names: Vec<&str> = summary.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(names, ["overdue", "paid", "pending"]);
    let all = invoices(&env).await;
    for row in &summary {
        let mine: Vec<&Invoice> = all
            .iter()
            .filter(|i| i.status.as_str() == row.status)
            .collect();
        assert_eq!(row.invoices, mine.len() as u64);
        assert_eq!(row.amount, mine.iter().map(|i| i.total_amount).sum());
    }
}

#[tokio::test]
async fn parameters_are_checked_before_anything_is_run() {
    let env = TestEnv::start_seeded().await;
    let refused = |error: AnalysisError| match error {
        AnalysisError::InvalidParameter { parameter, message } => format!("{parameter}: {message}"),
        other => panic!("expected a parameter error, got {other}"),
    };
    assert_eq!(
        refused(top::top_customers(env.database(), 0).await.unwrap_err()),
        "n: 0 customers cannot be listed; ask for 1 to 1000"
    );
    assert!(top::top_customers(env.database(), 1_001).await.is_err());
    assert!(
        overdue::overdue(env.database(), date("2025-01-01T00:00:00Z"), 0)
            .await
            .is_err()
    );
    assert_eq!(
        refused(DateRange::parse("2025-06-01", "2025-01-01").unwrap_err()),
        "to: the range must end after it starts, but it runs from \
         2025-06-01T00:00:00Z to 2025-01-01T00:00:00Z"
    );
    assert_eq!(
        refused(DateRange::parse("last tuesday", "2025-01-01").unwrap_err()),
        "from: \"last tuesday\" is not a date such as \"2025-01-31\" or \"2025-01-31T12:00:00Z\""
    );
}

#[tokio::test]
async fn explain_tells_an_index_scan_from_a_collection_scan() {
    let env = TestEnv::start_seeded().await;
    let some = revenue::by_customer(env.database(), None).await.unwrap()[0].clone();
    let by_customer = plan::explain_find(
        env.database(),
        "invoices",
        doc! { "customer_id": some.customer_id },
    )
    .await
    .unwrap();
    assert!(by_customer.uses_index("customer_id_1"), "{by_customer}");
    assert_eq!(by_customer.returned, Some(some.invoices));
    assert_eq!(by_customer.docs_examined, Some(some.invoices));

    let by_tax = plan::explain_find(env.database(), "invoices", doc! { "tax": { "$gt": 1 } })
        .await
        .unwrap();
    assert!(by_tax.is_collection_scan(), "{by_tax}");
    assert_eq!(by_tax.docs_examined, Some(TEST_DATA.invoices as u64));
}
