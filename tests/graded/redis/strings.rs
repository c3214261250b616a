//! Graded tests of the strings exercise, shared by `exercises` and `solutions`.

use super::strings::*;
use lab::testing::{TestEnv, inspect};
use redis::AsyncCommands;

#[tokio::test]
async fn stores_a_customer_name_under_its_key() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    store_customer_name(&mut redis, 42, "Ada Lovelace")
        .await
        .unwrap();
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["customer:42:name"],
        "the name belongs under `customer:42:name`: keys follow `<type>:<id>`"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42:name").await,
        "string",
        "a name is stored with SET, as a string"
    );
    assert_eq!(
        inspect::bytes(&mut redis, "customer:42:name")
            .await
            .as_deref(),
        Some("Ada Lovelace".as_bytes())
    );
}

#[tokio::test]
async fn reads_a_name_back_and_a_missing_one_as_none() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("customer:7:name", "Grace Hopper").await.unwrap();
    assert_eq!(
        customer_name(&mut redis, 7).await.unwrap().as_deref(),
        Some("Grace Hopper")
    );
    assert_eq!(
        customer_name(&mut redis, 8).await.unwrap(),
        None,
        "GET of a missing key is nil in Redis, which is `None`, not an error"
    );
}

#[tokio::test]
async fn counts_visits_on_the_server() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    assert_eq!(
        record_visit(&mut redis, "home").await.unwrap(),
        1,
        "the first visit counts 1"
    );
    assert_eq!(record_visit(&mut redis, "home").await.unwrap(), 2);
    assert_eq!(
        record_visit(&mut redis, "pricing").await.unwrap(),
        1,
        "each page has its own counter"
    );
    let stored: i64 = redis.get("visits:home").await.unwrap();
    assert_eq!(stored, 2, "the count lives in Redis under `visits:home`");
}

#[tokio::test]
async fn many_clients_counting_at_once_lose_no_visit() {
    let env = TestEnv::start().await;
    let redis = env.redis().await;
    let counters = (0..50).map(|_| {
        let mut redis = redis.clone();
        tokio::spawn(async move { record_visit(&mut redis, "home").await.unwrap() })
    });
    for counter in counters {
        counter.await.unwrap();
    }
    let mut redis = redis.clone();
    let stored: i64 = redis.get("visits:home").await.unwrap();
    assert_eq!(
        stored, 50,
        "50 visits at once must count 50: use INCR, not GET then SET"
    );
}

#[tokio::test]
async fn decodes_text_and_reports_bytes_that_are_not_utf8() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("note:1", "café").await.unwrap();
    let _: () = redis
        .set("note:2", &[0xff_u8, 0xfe, 0x00][..])
        .await
        .unwrap();
    assert_eq!(
        read_text(&mut redis, "note:1").await.unwrap(),
        Ok(Some("café".to_owned()))
    );
    assert_eq!(
        read_text(&mut redis, "note:3").await.unwrap(),
        Ok(None),
        "a missing key is `Ok(None)`"
    );
    assert_eq!(
        read_text(&mut redis, "note:2").await.unwrap(),
        Err(NotText {
            key: "note:2".to_owned()
        }),
        "Redis returns bytes; bytes that are not UTF-8 are not text"
    );
}
