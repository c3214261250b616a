//! The test harness keeps tests apart and cleans up after them.

use bson::doc;
use lab::services::{Origin, connect_mongodb};
use lab::testing::TestEnv;
use redis::AsyncCommands;

#[tokio::test]
async fn each_test_gets_an_empty_redis_of_its_own() {
    let first = TestEnv::start().await;
    let second = TestEnv::start().await;
    let mut a = first.redis().await;
    let mut b = second.redis().await;
    let _: () = a.set("customer:1", "Ada").await.unwrap();
    let seen: Option<String> = b.get("customer:1").await.unwrap();
    assert_eq!(
        seen, None,
        "a key written in one test's Redis is visible in another's"
    );
    let size: u64 = redis::cmd("DBSIZE").query_async(&mut a).await.unwrap();
    assert_eq!(size, 1);
}

#[tokio::test]
async fn a_redis_server_started_for_a_test_keeps_nothing_on_disk() {
    let env = TestEnv::start().await;
    if !env.owns_redis_server() {
        return; // A server given by REDIS_URL keeps its own settings.
    }
    let mut redis = env.redis().await;
    let setting: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(setting, ["appendonly", "no"]);
}

#[tokio::test]
async fn a_tests_redis_stops_when_the_environment_is_dropped() {
    let env = TestEnv::start().await;
    let url = env.redis_url().to_owned();
    assert!(lab::services::clients::redis_answers(&url).await);
    let owned = env.owns_redis_server();
    drop(env);
    if owned {
        assert!(
            !lab::services::clients::redis_answers(&url).await,
            "{url} still answers"
        );
    }
}

#[tokio::test]
async fn each_test_gets_its_own_database_which_is_dropped_afterwards() {
    let first = TestEnv::start().await;
    let second = TestEnv::start().await;
    assert_ne!(first.database().name(), second.database().name());
    first
        .database()
        .collection("notes")
        .insert_one(doc! { "n": 1 })
        .await
        .unwrap();
    assert_eq!(
        second
            .database()
            .collection::<bson::Document>("notes")
            .count_documents(doc! {})
            .await
            .unwrap(),
        0
    );

    let (uri, name) = (
        first.mongodb_uri().to_owned(),
        first.database().name().to_owned(),
    );
    drop(first);
    let client = connect_mongodb(&uri, Origin::Lab).await.unwrap();
    let names = client.list_database_names().await.unwrap();
    assert!(!names.contains(&name), "{name} was not dropped");
}

#[tokio::test]
async fn a_recording_leaves_out_what_clients_send_to_keep_a_connection() {
    let env = TestEnv::start().await;
    let mut student = env.redis().await;
    let recording = env.record_redis().await;
    // A second client opening a connection in the middle of the recording
    // (a reconnect, a health check) sends HELLO/CLIENT/PING of its own.
    let mut other = env.redis().await;
    let _: String = redis::cmd("PING").query_async(&mut other).await.unwrap();
    let _: () = student.set("customer:1", "Ada").await.unwrap();
    let sent = recording.finish().await;
    assert_eq!(
        sent.names(),
        ["SET"],
        "connection upkeep was recorded as if the student had sent it: {}",
        sent.listing()
    );
}
