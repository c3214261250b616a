//! The billing data set, loaded into a real MongoDB server.

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use lab::billing::collections::{self, CUSTOMERS, INVOICES};
use lab::billing::{Customer, Invoice};
use lab::dataset::{self, Existing, SeedSpec};
use lab::testing::{TEST_DATA, TestEnv};

/// Every document of `collection`, in `_id` order, as `T`.
async fn all<T>(env: &TestEnv, collection: &str) -> Vec<T>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    env.database()
        .collection::<T>(collection)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// The database's collections, sorted.
async fn collection_names(env: &TestEnv) -> Vec<String> {
    let mut names = env.database().list_collection_names().await.unwrap();
    names.sort();
    names
}

async fn raw(env: &TestEnv, collection: &str) -> Vec<Document> {
    all(env, collection).await
}

#[tokio::test]
async fn seeded_documents_have_the_course_notes_field_names_and_types() {
    let env = TestEnv::start_seeded().await;

    let customer = env
        .database()
        .collection::<Document>(CUSTOMERS)
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = customer.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["_id", "name", "email", "phone", "address", "created_at"]
    );
    assert!(matches!(customer.get("_id"), Some(Bson::ObjectId(_))));
    assert!(matches!(
        customer.get("created_at"),
        Some(Bson::DateTime(_))
    ));

    let invoice = env
        .database()
        .collection::<Document>(INVOICES)
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = invoice.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "_id",
            "customer_id",
            "invoice_date",
            "due_date",
            "items",
            "subtotal",
            "tax",
            "total_amount",
            "status"
        ]
    );
    assert!(
        matches!(invoice.get("total_amount"), Some(Bson::Decimal128(_))),
        "money is Decimal128"
    );
    let item = invoice.get_array("items").unwrap()[0]
        .as_document()
        .unwrap();
    let item_keys: Vec<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(
        item_keys,
        ["description", "quantity", "unit_price", "total"]
    );
}

#[tokio::test]
async fn seeding_loads_the_requested_counts_and_every_document_reads_back_valid() {
    let env = TestEnv::start_seeded().await;
    let customers: Vec<Customer> = all(&env, CUSTOMERS).await;
    let invoices: Vec<Invoice> = all(&env, INVOICES).await;
    assert_eq!(customers.len(), TEST_DATA.customers);
    assert_eq!(invoices.len(), TEST_DATA.invoices);
    let ids: std::collections::HashSet<_> = customers.iter().map(|c| c.id).collect();
    assert!(
        invoices
            .iter()
            .all(|invoice| ids.contains(&invoice.customer_id)),
        "every invoice references a customer"
    );
}

#[tokio::test]
async fn the_same_seed_gives_identical_documents_ids_included() {
    let first = TestEnv::start_seeded().await;
    let second = TestEnv::start_seeded().await;
    assert_eq!(raw(&first, CUSTOMERS).await, raw(&second, CUSTOMERS).await);
    assert_eq!(raw(&first, INVOICES).await, raw(&second, INVOICES).await);
}

#[tokio::test]
async fn the_revenue_pipeline_of_the_notes_sums_money_exactly() {
    let env = TestEnv::start_seeded().await;
    let invoices: Vec<Invoice> = all(&env, INVOICES).await;
    let customer_id = invoices[0].customer_id;
    let expected: lab::billing::Money = invoices
        .iter()
        .filter(|i| i.customer_id == customer_id)
        .map(|i| i.total_amount)
        .sum();

    let pipeline = [
        doc! { "$match": { "customer_id": customer_id } },
        doc! { "$group": { "_id": "$customer_id", "total_revenue": { "$sum": "$total_amount" } } },
    ];
    let rows: Vec<Document> = env
        .database()
        .collection::<Document>(INVOICES)
        .aggregate(pipeline)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let total = lab::billing::Money::from_bson(rows[0].get("total_revenue").unwrap()).unwrap();
    assert_eq!(total, expected);
}

#[tokio::test]
async fn seeding_over_existing_data_is_refused_and_changes_nothing() {
    let env = TestEnv::start_seeded().await;
    let before = raw(&env, INVOICES).await;
    let other = SeedSpec::new(5, 10, 99).unwrap();
    let error = dataset::seed(env.database(), other, Existing::Refuse, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("already holds 25 documents; pass --replace"),
        "{error}"
    );
    assert_eq!(raw(&env, INVOICES).await, before);
}

#[tokio::test]
async fn replacing_swaps_the_whole_data_set_and_leaves_no_staging_collections() {
    let env = TestEnv::start_seeded().await;
    let other = SeedSpec::new(5, 10, 99).unwrap();
    let report = dataset::seed(env.database(), other, Existing::Replace, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((report.customers, report.invoices), (5, 10));
    assert_eq!(raw(&env, CUSTOMERS).await.len(), 5);
    assert_eq!(raw(&env, INVOICES).await.len(), 10);
    assert_eq!(collection_names(&env).await, [CUSTOMERS, INVOICES]);
}

#[tokio::test]
async fn the_lessons_indexes_exist_after_seeding() {
    let env = TestEnv::start_seeded().await;
    let names = collections::invoices(env.database())
        .list_index_names()
        .await
        .unwrap();
    for expected in ["customer_id_1", "status_1_due_date_1", "invoice_date_1"] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
    let duplicate = raw(&env, CUSTOMERS).await[0].clone();
    let mut copy = duplicate.clone();
    copy.insert("_id", bson::oid::ObjectId::new());
    let error = env
        .database()
        .collection::<Document>(CUSTOMERS)
        .insert_one(copy)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("E11000")
            || error.to_string().to_lowercase().contains("duplicate"),
        "{error}"
    );
}

#[tokio::test]
async fn progress_is_reported_up_to_the_total() {
    let env = TestEnv::start().await;
    let spec = SeedSpec::new(10, 12_000, 5).unwrap();
    let mut seen = Vec::new();
    dataset::seed(env.database(), spec, Existing::Refuse, &mut |p| {
        seen.push(p)
    })
    .await
    .unwrap();
    let last = seen.last().unwrap();
    assert_eq!((last.written, last.total), (12_010, 12_010));
    assert!(seen.windows(2).all(|w| w[0].written <= w[1].written));
}

#[tokio::test]
async fn data_left_by_an_interrupted_run_is_replaced_by_the_next_one() {
    let env = TestEnv::start_seeded().await;
    // What a run killed part way leaves: its marker and some documents.
    env.database()
        .collection::<Document>("seeding__in_progress")
        .insert_one(doc! { "seed": 1 })
        .await
        .unwrap();
    assert!(
        dataset::loader::needs_seeding(env.database())
            .await
            .unwrap()
    );

    let spec = SeedSpec::new(5, 10, 99).unwrap();
    dataset::seed(env.database(), spec, Existing::Refuse, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(raw(&env, CUSTOMERS).await.len(), 5);
    assert_eq!(raw(&env, INVOICES).await.len(), 10);
    assert!(
        !dataset::loader::needs_seeding(env.database())
            .await
            .unwrap()
    );
    assert_eq!(collection_names(&env).await, [CUSTOMERS, INVOICES]);
}

#[tokio::test]
async fn an_empty_data_set_still_creates_both_collections() {
    let env = TestEnv::start().await;
    dataset::seed(
        env.database(),
        SeedSpec::new(0, 0, 1).unwrap(),
        Existing::Refuse,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(collection_names(&env).await, [CUSTOMERS, INVOICES]);
}
