//! Graded tests of the customer card exercise, shared by `exercises` and `solutions`.

use super::customer_card::*;
use lab::testing::{TestEnv, inspect};
use redis::AsyncCommands;

fn ada() -> CustomerCard {
    CustomerCard {
        id: 42,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        city: "Metropolis".into(),
    }
}

#[tokio::test]
async fn the_json_form_is_one_string_that_round_trips() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    save_as_json(&mut redis, &ada()).await.unwrap();
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42:json").await,
        "string",
        "JSON goes in a plain string value"
    );
    let raw = inspect::bytes(&mut redis, "customer:42:json")
        .await
        .unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_slice(&raw).expect("`customer:42:json` must hold valid JSON");
    assert_eq!(parsed["email"], "ada@example.com");
    // The stored document, field names and all, as recorded from the answer key.
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("customer_card_json", parsed);
    });
    assert_eq!(load_from_json(&mut redis, 42).await.unwrap(), Some(ada()));
    assert_eq!(load_from_json(&mut redis, 43).await.unwrap(), None);
}

#[tokio::test]
async fn the_hash_form_has_one_field_per_attribute() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    save_as_hash(&mut redis, &ada()).await.unwrap();
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42").await,
        "hash",
        "`customer:42` must be a hash"
    );
    let fields: std::collections::BTreeMap<String, String> =
        redis.hgetall("customer:42").await.unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["city", "email", "name"],
        "the hash holds the fields name, email and city"
    );
    assert_eq!(fields["city"], "Metropolis");
    assert_eq!(load_from_hash(&mut redis, 42).await.unwrap(), Some(ada()));
    assert_eq!(
        load_from_hash(&mut redis, 43).await.unwrap(),
        None,
        "a missing hash is no card"
    );
}

#[tokio::test]
async fn changing_the_email_touches_only_that_field() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    save_as_hash(&mut redis, &ada()).await.unwrap();
    change_email(&mut redis, 42, "countess@example.com")
        .await
        .unwrap();
    let email: String = redis.hget("customer:42", "email").await.unwrap();
    assert_eq!(email, "countess@example.com");
    let name: String = redis.hget("customer:42", "name").await.unwrap();
    assert_eq!(
        name, "Ada Lovelace",
        "a partial update keeps the other fields"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["customer:42"],
        "no other key is written"
    );
}
