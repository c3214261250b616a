//! Graded tests of the CRUD exercise, shared by `exercises` and `solutions`.

use super::crud::*;
use lab::bson::{Document, doc};
use lab::mongodb::Collection;
use lab::testing::TestEnv;

fn customers(env: &TestEnv) -> Collection<Document> {
    env.database().collection("customers")
}

async fn register(env: &TestEnv) {
    let people = [
        ("Ada", "ada@example.com", "London"),
        ("Grace", "grace@example.com", "Arlington"),
        ("Alan", "alan@example.com", "London"),
    ];
    assert_eq!(add_customers(env.database(), &people).await.unwrap(), 3);
}

#[tokio::test]
async fn insert_one_stores_the_document_and_returns_its_id() {
    let env = TestEnv::start().await;
    let id = add_customer(env.database(), "Ada", "ada@example.com", "London")
        .await
        .unwrap();
    let stored = customers(&env)
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .expect("the returned id must be the stored document's _id");
    assert_eq!(stored.get_str("name").unwrap(), "Ada");
    assert_eq!(stored.get_str("email").unwrap(), "ada@example.com");
    assert_eq!(
        stored.get_document("address").unwrap(),
        &doc! { "city": "London" },
        "the city is inside an embedded `address` document"
    );
}

#[tokio::test]
async fn insert_many_stores_every_customer() {
    let env = TestEnv::start().await;
    register(&env).await;
    assert_eq!(customers(&env).count_documents(doc! {}).await.unwrap(), 3);
    assert_eq!(
        add_customers(env.database(), &[]).await.unwrap(),
        0,
        "an empty list inserts nothing (and is not an error)"
    );
}

#[tokio::test]
async fn find_one_projects_only_the_fields_asked_for() {
    let env = TestEnv::start().await;
    register(&env).await;
    let found = find_by_email(env.database(), "grace@example.com")
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(
            doc! { "name": "Grace", "email": "grace@example.com", "address": { "city": "Arlington" } }
        ),
        "name, email and address.city, and no _id"
    );
    assert_eq!(
        find_by_email(env.database(), "nobody@example.com")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn find_filters_on_an_embedded_field_and_sorts() {
    let env = TestEnv::start().await;
    register(&env).await;
    assert_eq!(
        names_in_city(env.database(), "London").await.unwrap(),
        ["Ada", "Alan"]
    );
    assert!(
        names_in_city(env.database(), "Paris")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn update_one_changes_one_field_of_one_customer() {
    let env = TestEnv::start().await;
    register(&env).await;
    assert!(
        rename(env.database(), "ada@example.com", "Ada Lovelace")
            .await
            .unwrap()
    );
    let ada = customers(&env)
        .find_one(doc! { "email": "ada@example.com" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.get_str("name").unwrap(), "Ada Lovelace");
    assert_eq!(
        ada.get_document("address").unwrap(),
        &doc! { "city": "London" },
        "$set leaves the other fields alone"
    );
    assert!(
        !rename(env.database(), "nobody@example.com", "x")
            .await
            .unwrap(),
        "no match is reported as false"
    );
}

#[tokio::test]
async fn update_many_adds_a_tag_once_per_customer() {
    let env = TestEnv::start().await;
    register(&env).await;
    assert_eq!(tag_city(env.database(), "London", "uk").await.unwrap(), 2);
    assert_eq!(
        tag_city(env.database(), "London", "uk").await.unwrap(),
        0,
        "a customer who has the tag already is not modified"
    );
    let tagged = customers(&env)
        .count_documents(doc! { "tags": ["uk"] })
        .await
        .unwrap();
    assert_eq!(tagged, 2, "each London customer has tags [\"uk\"]");
    let grace = find_by_email(env.database(), "grace@example.com")
        .await
        .unwrap();
    assert!(grace.is_some());
    assert_eq!(
        customers(&env)
            .count_documents(doc! { "tags": { "$exists": true } })
            .await
            .unwrap(),
        2,
        "customers elsewhere are untouched"
    );
}

#[tokio::test]
async fn replace_one_swaps_the_whole_document_and_keeps_the_id() {
    let env = TestEnv::start().await;
    let id = add_customer(env.database(), "Ada", "ada@example.com", "London")
        .await
        .unwrap();
    customers(&env)
        .update_one(doc! { "_id": id }, doc! { "$set": { "phone": "555-0101" } })
        .await
        .unwrap();
    assert!(
        replace_customer(
            env.database(),
            id,
            "Ada L.",
            "ada@lovelace.example",
            "Oxford"
        )
        .await
        .unwrap()
    );
    let stored = customers(&env)
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored,
        doc! { "_id": id, "name": "Ada L.", "email": "ada@lovelace.example", "address": { "city": "Oxford" } },
        "a replacement keeps only _id of the old document (the phone is gone)"
    );
    assert!(
        !replace_customer(
            env.database(),
            lab::bson::oid::ObjectId::new(),
            "x",
            "x@example.com",
            "y"
        )
        .await
        .unwrap()
    );
    assert_eq!(customers(&env).count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn an_upsert_creates_once_then_counts() {
    let env = TestEnv::start().await;
    assert!(
        record_visit(env.database(), "new@example.com")
            .await
            .unwrap(),
        "the first visit creates the customer"
    );
    assert!(
        !record_visit(env.database(), "new@example.com")
            .await
            .unwrap()
    );
    assert!(
        !record_visit(env.database(), "new@example.com")
            .await
            .unwrap()
    );
    let all: Vec<Document> = {
        let mut cursor = customers(&env).find(doc! {}).await.unwrap();
        let mut all = Vec::new();
        while cursor.advance().await.unwrap() {
            all.push(cursor.deserialize_current().unwrap());
        }
        all
    };
    assert_eq!(all.len(), 1, "one customer, however many visits");
    assert_eq!(all[0].get_str("email").unwrap(), "new@example.com");
    assert_eq!(all[0].get_i32("visits").unwrap(), 3);
}

#[tokio::test]
async fn delete_one_and_delete_many_remove_what_they_match() {
    let env = TestEnv::start().await;
    register(&env).await;
    assert!(
        remove_customer(env.database(), "grace@example.com")
            .await
            .unwrap()
    );
    assert!(
        !remove_customer(env.database(), "grace@example.com")
            .await
            .unwrap()
    );
    assert_eq!(remove_city(env.database(), "London").await.unwrap(), 2);
    assert_eq!(remove_city(env.database(), "London").await.unwrap(), 0);
    assert_eq!(customers(&env).count_documents(doc! {}).await.unwrap(), 0);
}
