//! The billing API under races a single client never makes: a customer
//! deleted while invoices are issued for it, and writes whose client hangs
//! up mid-way. Called through the router without a socket, against real
//! servers.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use bson::doc;
use bson::oid::ObjectId;
use common::{get, send};
use lab::api::ApiState;
use lab::billing::deletions;
use lab::testing::TestEnv;
use serde_json::{Value, json};

async fn state_for(env: &TestEnv) -> ApiState {
    lab::billing::collections::ensure_indexes(env.database())
        .await
        .unwrap();
    ApiState::new(env.database().clone(), env.redis().await)
}

async fn new_customer(state: &ApiState, n: usize) -> String {
    let created = send(
        state,
        Method::POST,
        "/customers",
        json!({
            "name": format!("Customer {n}"),
            "email": format!("race{n}@example.com"),
            "phone": "555-0101",
            "address": {"street": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207"},
        }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["_id"].as_str().unwrap().to_owned()
}

fn invoice_for(customer: &str) -> Value {
    json!({"customer_id": customer, "items": [{"description": "Widget", "quantity": 1, "unit_price": "10.00"}]})
}

/// Every invoice stored names a customer who exists.
async fn no_invoice_without_its_customer(env: &TestEnv) {
    let invoices = env.database().collection::<bson::Document>("invoices");
    let customers = env.database().collection::<bson::Document>("customers");
    let mut cursor = invoices.find(doc! {}).await.unwrap();
    while cursor.advance().await.unwrap() {
        let invoice = cursor.deserialize_current().unwrap();
        let customer = invoice.get_object_id("customer_id").unwrap();
        let found = customers
            .count_documents(doc! { "_id": customer })
            .await
            .unwrap();
        assert_eq!(
            found,
            1,
            "invoice {} points at customer {customer}, who is gone",
            invoice.get_object_id("_id").unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_deleted_while_an_invoice_is_issued_leaves_no_invoice_pointing_at_nobody() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    for n in 0..30 {
        let customer = new_customer(&state, n).await;
        let path = format!("/customers/{customer}");
        let (deleted, issued) = tokio::join!(
            send(&state, Method::DELETE, &path, Value::Null),
            send(&state, Method::POST, "/invoices", invoice_for(&customer)),
        );
        assert!(
            !(deleted.status == StatusCode::NO_CONTENT && issued.status == StatusCode::CREATED),
            "customer {customer} was deleted (204) and an invoice for them was issued (201)"
        );
        assert!(
            [StatusCode::NO_CONTENT, StatusCode::CONFLICT].contains(&deleted.status),
            "{}",
            deleted.body
        );
        assert!(
            [
                StatusCode::CREATED,
                StatusCode::CONFLICT,
                StatusCode::UNPROCESSABLE_ENTITY
            ]
            .contains(&issued.status),
            "{}",
            issued.body
        );
    }
    no_invoice_without_its_customer(&env).await;
}

/// Two deletions of one customer and several invoices at once: a deletion
/// that gives up must not end the other's announcement.
#[tokio::test(flavor = "multi_thread")]
async fn two_deletions_and_several_invoices_at_once_leave_no_invoice_pointing_at_nobody() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    for n in 0..30 {
        let customer = new_customer(&state, n).await;
        let path = format!("/customers/{customer}");
        let deletions = futures_util::future::join_all(
            (0..2).map(|_| send(&state, Method::DELETE, &path, Value::Null)),
        );
        let invoices = futures_util::future::join_all(
            (0..4).map(|_| send(&state, Method::POST, "/invoices", invoice_for(&customer))),
        );
        let (deleted, issued) = tokio::join!(deletions, invoices);
        let gone = deleted
            .iter()
            .any(|answer| answer.status == StatusCode::NO_CONTENT);
        let kept = issued
            .iter()
            .any(|answer| answer.status == StatusCode::CREATED);
        assert!(
            !(gone && kept),
            "customer {customer} was deleted and an invoice for them was issued"
        );
    }
    no_invoice_without_its_customer(&env).await;
}

#[tokio::test]
async fn an_invoice_for_a_customer_being_deleted_is_taken_back() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let customer = new_customer(&state, 1).await;
    let id = ObjectId::parse_str(&customer).unwrap();
    let deletion = deletions::announce(env.database(), id).await.unwrap();
    let refused = send(&state, Method::POST, "/invoices", invoice_for(&customer)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("a deletion of them was under way")
    );
    let stored = env
        .database()
        .collection::<bson::Document>("invoices")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(stored, 0, "the refused invoice was taken back");

    deletions::withdraw(env.database(), deletion).await.unwrap();
    let issued = send(&state, Method::POST, "/invoices", invoice_for(&customer)).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
}

/// A change whose client stops waiting at any point still ends with the
/// cache and MongoDB agreeing: the write and its invalidation are not cut
/// apart.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_whose_client_hangs_up_never_leaves_a_stale_cache_entry() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let customer = new_customer(&state, 1).await;
    let path = format!("/customers/{customer}");
    let customers = env.database().collection::<bson::Document>("customers");
    for round in 0..40u64 {
        // Cached first.
        assert_eq!(get(&state, &path).await.status, StatusCode::OK);
        assert_eq!(get(&state, &path).await.body["source"], "cache");
        let change = send(
            &state,
            Method::PATCH,
            &path,
            json!({ "name": format!("Name {round}") }),
        );
        // Dropped after a moment that moves through the write's steps.
        let _ = tokio::time::timeout(Duration::from_micros(round * 150), change).await;
        // The write goes on without its client: a moment for it to end.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored = customers
            .find_one(doc! { "_id": ObjectId::parse_str(&customer).unwrap() })
            .await
            .unwrap()
            .unwrap();
        let served = get(&state, &path).await;
        assert_eq!(
            served.body["customer"]["name"].as_str(),
            stored.get_str("name").ok(),
            "round {round}: the API served {} from {} while MongoDB holds {:?}",
            served.body["customer"]["name"],
            served.body["source"],
            stored.get_str("name")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_under_way_keeps_its_outbox_record_when_another_write_finishes_first() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let id: ObjectId = new_customer(&state, 1).await.parse().unwrap();
    let outbox = env
        .database()
        .collection::<bson::Document>(lab::cache::outbox::COLLECTION);
    let records = || async { outbox.count_documents(doc! {}).await.unwrap() };
    // A slow write: its intention is recorded, then it waits at the gate.
    let (open, gate) = tokio::sync::oneshot::channel::<()>();
    let slow = tokio::spawn({
        let (cache, customers) = (state.cache.clone(), state.customers());
        async move {
            cache
                .write(id, async move {
                    let _ = gate.await;
                    customers
                        .update_one(doc! { "_id": id }, doc! { "$set": { "name": "Second" } })
                        .await
                })
                .await
        }
    });
    let recorded = async {
        while records().await == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), recorded)
        .await
        .expect("the slow write records its intention");
    // A quick write to the same customer finishes, invalidation and all.
    let path = format!("/customers/{id}");
    let quick = send(&state, Method::PATCH, &path, json!({"name": "First"})).await;
    assert_eq!(quick.status, StatusCode::OK, "{}", quick.body);
    assert_eq!(
        records().await,
        1,
        "the write still under way keeps its record: were the process to die now, its \
         invalidation must not be forgotten"
    );
    open.send(()).unwrap();
    slow.await.unwrap().unwrap();
    assert_eq!(
        records().await,
        0,
        "both writes invalidated, no record left"
    );
    let answer = get(&state, &path).await;
    assert_eq!(answer.body["customer"]["name"], "Second", "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_change_answers_the_status_it_made_even_when_another_change_follows() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let customer = new_customer(&state, 1).await;
    for _ in 0..30 {
        let issued = send(
            &state,
            Method::POST,
            "/invoices",
            json!({
                "customer_id": customer, "invoice_date": "2024-01-01", "due_date": "2024-01-31",
                "items": [{"description": "Widget", "quantity": 1, "unit_price": "10.00"}],
            }),
        )
        .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
        let path = format!("/invoices/{}/status", issued.body["_id"].as_str().unwrap());
        // Past due and unpaid: it may become overdue, and paid after that.
        let (overdue, paid) = tokio::join!(
            send(&state, Method::PUT, &path, json!({"status": "overdue"})),
            send(&state, Method::PUT, &path, json!({"status": "paid"})),
        );
        for (answer, asked) in [(overdue, "overdue"), (paid, "paid")] {
            if answer.status == StatusCode::OK {
                assert_eq!(
                    answer.body["status"], asked,
                    "a 200 to a change to {asked} shows the invoice as that change left it"
                );
            } else {
                assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
            }
        }
    }
}
