//! The test harness keeps tests apart and cleans up after them.

use bson::doc;
use lab::services::{Origin, connect_mongodb};
use lab::testing::{TestEnv, Topology};
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

#[tokio::test]
async fn a_test_can_have_a_cluster_whose_masters_share_the_keys() {
    let mut env = TestEnv::start_on(Topology::Cluster {
        masters: 3,
        replicas: 1,
    })
    .await;
    let mut redis = env.redis_connection().await;
    assert!(redis.is_cluster());
    for n in 0..60 {
        let () = redis.set(format!("key:{n}"), n).await.unwrap();
    }
    let nodes: Vec<(String, bool)> = env
        .cluster_mut()
        .expect("a cluster")
        .nodes()
        .iter()
        .map(|node| (node.url().unwrap().to_owned(), node.started_as_master()))
        .collect();
    assert_eq!(nodes.len(), 6);
    let mut held = Vec::new();
    for (url, master) in &nodes {
        let mut node = lab::services::connect_redis(url, Origin::Lab)
            .await
            .unwrap();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut node).await.unwrap();
        let role = redis::from_redis_value::<String>(role[0].clone()).unwrap();
        assert_eq!(role, if *master { "master" } else { "slave" }, "{url}");
        if *master {
            let keys: usize = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
            held.push(keys);
        }
    }
    assert_eq!(held.iter().sum::<usize>(), 60, "{held:?}");
    assert!(
        held.iter().all(|&keys| keys > 0),
        "every master holds some: {held:?}"
    );
    // One script may touch keys of one slot only: a hash tag puts them there.
    let script = redis::Script::new("return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)");
    let error = script
        .key("a")
        .key("b")
        .invoke_async::<()>(&mut redis)
        .await
        .unwrap_err();
    // The cluster client sends a script to the master of its first key's
    // slot, and that node refuses it: CROSSSLOT.
    assert!(
        error.to_string().to_uppercase().contains("CROSSSLOT"),
        "{error}"
    );
    let () = script
        .key("{a}:one")
        .key("{a}:two")
        .invoke_async(&mut redis)
        .await
        .unwrap();
}
