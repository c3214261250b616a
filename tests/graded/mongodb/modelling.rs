//! Graded tests of the modelling exercise, shared by `exercises` and `solutions`.

use super::modelling::*;
use lab::billing::Money;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::testing::TestEnv;

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

async fn customer(env: &TestEnv) -> ObjectId {
    let id = ObjectId::new();
    env.database()
        .collection::<Document>("customers")
        .insert_one(doc! { "_id": id, "name": "Ada", "email": "ada@example.com" })
        .await
        .unwrap();
    id
}

async fn every_invoice(invoices: &lab::mongodb::Collection<Document>) -> Vec<Document> {
    let mut cursor = invoices
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap();
    let mut all = Vec::new();
    while cursor.advance().await.unwrap() {
        all.push(cursor.deserialize_current().unwrap());
    }
    all
}

fn lines() -> [Line<'static>; 2] {
    [
        Line {
            description: "Web Hosting",
            quantity: 2,
            unit_price: money("50.00"),
        },
        Line {
            description: "Domain",
            quantity: 1,
            unit_price: money("15.00"),
        },
    ]
}

#[tokio::test]
async fn items_are_embedded_and_the_customer_is_referenced() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    let id = save_invoice(env.database(), ada, &lines()).await.unwrap();
    let stored = env
        .database()
        .collection::<Document>("invoices")
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .expect("the returned id is the stored invoice's _id");
    let mut fields: Vec<&str> = stored.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["_id", "customer_id", "items", "total_amount"],
        "no customer fields are copied into the invoice"
    );
    assert_eq!(stored.get_object_id("customer_id").unwrap(), ada);
    assert_eq!(
        stored.get_array("items").unwrap(),
        &vec![
            Bson::Document(doc! {
                "description": "Web Hosting", "quantity": 2,
                "unit_price": money("50.00"), "total": money("100.00"),
            }),
            Bson::Document(doc! {
                "description": "Domain", "quantity": 1,
                "unit_price": money("15.00"), "total": money("15.00"),
            }),
        ],
        "line items are embedded documents, amounts as Decimal128"
    );
    assert_eq!(
        stored.get("total_amount"),
        Some(&Bson::from(money("115.00")))
    );
    let mut collections = env.database().list_collection_names().await.unwrap();
    collections.sort();
    assert_eq!(
        collections,
        ["customers", "invoices"],
        "items live inside the invoice, not in a collection of their own"
    );
}

#[tokio::test]
async fn the_customer_is_read_through_the_reference() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    let id = save_invoice(env.database(), ada, &lines()).await.unwrap();
    let (invoice, customer) = invoice_with_customer(env.database(), id)
        .await
        .unwrap()
        .expect("the invoice and its customer");
    assert_eq!(invoice.get_object_id("_id").unwrap(), id);
    assert_eq!(customer.get_str("name").unwrap(), "Ada");
    assert_eq!(
        invoice_with_customer(env.database(), ObjectId::new())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_new_email_is_one_update_and_every_invoice_sees_it() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(save_invoice(env.database(), ada, &lines()).await.unwrap());
    }
    let invoices = env.database().collection::<Document>("invoices");
    let before = every_invoice(&invoices).await;
    assert!(
        change_email(env.database(), ada, "ada@lovelace.example")
            .await
            .unwrap()
    );
    assert!(
        !change_email(env.database(), ObjectId::new(), "x@example.com")
            .await
            .unwrap()
    );
    let after = every_invoice(&invoices).await;
    assert_eq!(before, after, "changing an email does not touch invoices");
    for id in ids {
        let (_, customer) = invoice_with_customer(env.database(), id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(customer.get_str("email").unwrap(), "ada@lovelace.example");
    }
}
