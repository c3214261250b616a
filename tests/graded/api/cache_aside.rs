//! Graded tests of the cache-aside exercise, shared by `exercises` and
//! `solutions`. The store is the test data set's customers in MongoDB,
//! counting its reads; Redis is the test's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::cache_aside::*;
use lab::bson::doc;
use lab::bson::oid::ObjectId;
use lab::mongodb::Collection;
use lab::redis::AsyncCommands;
use lab::redis::aio::ConnectionManager;
use lab::testing::TestEnv;

/// MongoDB's customers, counting reads, and noting whether the cached copy
/// was still there when an email was saved (it must be: invalidate after).
struct CountingStore {
    customers: Collection<lab::billing::Customer>,
    redis: ConnectionManager,
    loads: Arc<AtomicU32>,
    cached_at_save: Arc<AtomicBool>,
}

impl CustomerStore for CountingStore {
    async fn load(&self, id: &str) -> Option<String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let id = ObjectId::parse_str(id).ok()?;
        let customer = self.customers.find_one(doc! { "_id": id }).await.ok()??;
        Some(lab::billing::json::CustomerJson::of(&customer).to_json())
    }

    async fn save_email(&self, id: &str, email: &str) -> bool {
        let mut redis = self.redis.clone();
        let cached: bool = redis
            .exists(format!("customer:{id}"))
            .await
            .unwrap_or(false);
        self.cached_at_save.store(cached, Ordering::SeqCst);
        let Ok(id) = ObjectId::parse_str(id) else {
            return false;
        };
        self.customers
            .update_one(doc! { "_id": id }, doc! { "$set": { "email": email } })
            .await
            .map(|result| result.matched_count == 1)
            .unwrap_or(false)
    }
}

async fn setup() -> (TestEnv, ConnectionManager, CountingStore, String) {
    let env = TestEnv::start_seeded().await;
    let redis = env.redis().await;
    let customers = lab::billing::collections::customers(env.database());
    let id = customers
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap()
        .id
        .to_hex();
    let store = CountingStore {
        customers,
        redis: redis.clone(),
        loads: Arc::default(),
        cached_at_save: Arc::default(),
    };
    (env, redis, store, id)
}

#[tokio::test]
async fn a_miss_reads_the_store_once_and_later_reads_come_from_redis() {
    let (_env, mut redis, store, id) = setup().await;
    let (first, origin) = get_customer(&mut redis, &store, &id).await.unwrap();
    assert_eq!(origin, Origin::Database);
    let first = first.expect("the customer exists");
    for _ in 0..3 {
        let (again, origin) = get_customer(&mut redis, &store, &id).await.unwrap();
        assert_eq!(origin, Origin::Cache);
        assert_eq!(again.as_deref(), Some(first.as_str()));
    }
    assert_eq!(store.loads.load(Ordering::SeqCst), 1, "one read of MongoDB");
    let stored: String = redis.get(format!("customer:{id}")).await.unwrap();
    assert_eq!(
        stored, first,
        "the customer's JSON is under customer:{{id}}"
    );
}

#[tokio::test]
async fn cached_customers_expire_after_an_hour() {
    let (_env, mut redis, store, id) = setup().await;
    get_customer(&mut redis, &store, &id).await.unwrap();
    let ttl: i64 = redis.ttl(format!("customer:{id}")).await.unwrap();
    assert!(
        (3590..=3600).contains(&ttl),
        "TTL {ttl}, expected about 3600"
    );
}

#[tokio::test]
async fn a_missing_customer_is_remembered_briefly() {
    let (_env, mut redis, store, _) = setup().await;
    let nobody = ObjectId::new().to_hex();
    for _ in 0..3 {
        let (found, _) = get_customer(&mut redis, &store, &nobody).await.unwrap();
        assert_eq!(found, None);
    }
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        1,
        "the miss is cached too"
    );
    let stored: String = redis.get(format!("customer:{nobody}")).await.unwrap();
    assert_eq!(stored, "null");
    let ttl: i64 = redis.ttl(format!("customer:{nobody}")).await.unwrap();
    assert!((1..=30).contains(&ttl), "a short TTL: {ttl}");
}

#[tokio::test]
async fn a_changed_email_is_saved_then_the_cached_copy_removed() {
    let (_env, mut redis, store, id) = setup().await;
    get_customer(&mut redis, &store, &id).await.unwrap();
    assert!(
        change_email(&mut redis, &store, &id, "new@example.com")
            .await
            .unwrap()
    );
    assert!(
        store.cached_at_save.load(Ordering::SeqCst),
        "the store is written first, the cache invalidated after"
    );
    let exists: bool = redis.exists(format!("customer:{id}")).await.unwrap();
    assert!(!exists, "the stale copy is gone");
    let (after, origin) = get_customer(&mut redis, &store, &id).await.unwrap();
    assert_eq!(origin, Origin::Database);
    assert!(after.unwrap().contains("new@example.com"));
    assert!(
        !change_email(
            &mut redis,
            &store,
            &ObjectId::new().to_hex(),
            "x@example.com"
        )
        .await
        .unwrap()
    );
}
