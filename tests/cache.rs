//! The customer cache and the three caching patterns, against real servers:
//! concurrency, invalidation, negative entries and Redis going away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use lab::billing::collections;
use lab::cache::customer::{self, CustomerCache, Lookup};
use lab::cache::{CacheAside, Loader, ReadThrough, RedisStore, Source, WriteThrough};
use lab::services::{Origin, connect_redis};
use lab::testing::{TestEnv, stoppable_redis};

async fn cache_for(env: &TestEnv) -> CustomerCache {
    let store = RedisStore::new(env.redis_connection().await, Duration::from_millis(250));
    CustomerCache::new(store, collections::customers(env.database()))
}

async fn some_customer(env: &TestEnv) -> ObjectId {
    collections::customers(env.database())
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap()
        .id
}

fn name_in(lookup: &Lookup) -> String {
    match lookup {
        Lookup::Found { json, .. } => {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            value["name"].as_str().unwrap().to_owned()
        }
        Lookup::Missing { .. } => panic!("expected a customer, got {lookup:?}"),
    }
}

fn source(lookup: &Lookup) -> Source {
    match lookup {
        Lookup::Found { source, .. } | Lookup::Missing { source } => *source,
    }
}

lab::on_each_topology! {
    async fn a_thousand_concurrent_reads_of_a_cold_key_make_one_database_read(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let cache = cache_for(&env).await;
    let id = some_customer(&env).await;
    let reads: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(id).await.unwrap() })
        })
        .collect();
    for read in reads {
        assert!(matches!(read.await.unwrap(), Lookup::Found { .. }));
    }
    let stats = cache.stats();
    assert_eq!(stats.database_reads, 1, "{stats:?}");
    assert_eq!(stats.hits + stats.misses, 1000, "{stats:?}");
    // The fill is best effort: with a thousand reads queued on a busy
    // machine, the load's own Redis calls can miss their deadline, and then
    // the next read fills the entry instead.
    let mut again = cache.get(id).await.unwrap();
    if stats.write_backs == 0 && source(&again) == Source::Database {
        again = cache.get(id).await.unwrap();
    }
    assert_eq!(source(&again), Source::Cache, "{:?}", cache.stats());
}
}

lab::on_each_topology! {
    async fn entries_expire_in_about_an_hour_and_misses_are_remembered_briefly(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let cache = cache_for(&env).await;
    let id = some_customer(&env).await;
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Database);
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Cache);
    let mut redis = env.redis_connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(customer::entry_key(id))
        .query_async(&mut redis)
        .await
        .unwrap();
    let hour = customer::TTL.as_millis() as i64;
    assert!(ttl > hour - 5_000 && ttl < hour + hour / 10, "{ttl} ms");

    let nobody = ObjectId::new();
    assert_eq!(
        cache.get(nobody).await.unwrap(),
        Lookup::Missing {
            source: Source::Database
        }
    );
    assert_eq!(
        cache.get(nobody).await.unwrap(),
        Lookup::Missing {
            source: Source::Cache
        },
        "the miss itself is cached"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(customer::entry_key(nobody))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 33_000, "a short negative entry: {ttl} ms");
    assert_eq!(cache.stats().database_reads, 2);

    // Creating the customer clears the negative entry.
    let mut ada = collections::customers(env.database())
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap()
        .into_inner();
    ada.id = nobody;
    ada.email = "created-later@example.com".into();
    collections::customers(env.database())
        .insert_one(lab::billing::Valid::check(ada).unwrap())
        .await
        .unwrap();
    cache.invalidate(nobody).await;
    assert!(matches!(
        cache.get(nobody).await.unwrap(),
        Lookup::Found {
            source: Source::Database,
            ..
        }
    ));
}
}

lab::on_each_topology! {
    async fn after_an_acknowledged_update_no_reader_sees_the_old_name(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let cache = cache_for(&env).await;
    let id = some_customer(&env).await;
    let customers = collections::customers(env.database());
    let done = Arc::new(AtomicBool::new(false));
    // Readers hammer the key the whole time, so loads are always under way
    // when a write lands, and some read the old name just before it.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (cache, done) = (cache.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    cache.get(id).await.unwrap();
                }
            })
        })
        .collect();
    for version in 0..60 {
        let name = format!("Name {version:03}");
        customers
            .update_one(doc! { "_id": id }, doc! { "$set": { "name": &name } })
            .await
            .unwrap();
        cache.invalidate(id).await;
        // The write is acknowledged: from now on every read must see it.
        for _ in 0..3 {
            assert_eq!(name_in(&cache.get(id).await.unwrap()), name);
        }
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(
        name_in(&cache.get(id).await.unwrap()),
        "Name 059",
        "what stays cached is the last write"
    );
}
}

/// Reads customers from MongoDB; the first read it makes fetches the
/// document at once but hands it over only when the test opens the gate,
/// like a reader stalled by a garbage collection or a slow network.
struct GatedReader {
    customers: mongodb::Collection<lab::billing::Customer>,
    gate: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    fetched: Arc<tokio::sync::Notify>,
}

impl customer::CustomerReader for GatedReader {
    fn read(
        &self,
        id: ObjectId,
    ) -> futures_util::future::BoxFuture<'_, mongodb::error::Result<Option<lab::billing::Customer>>>
    {
        let gate = self.gate.lock().unwrap().take();
        Box::pin(async move {
            let found = self.customers.find_one(doc! { "_id": id }).await?;
            if let Some(gate) = gate {
                self.fetched.notify_one();
                let _ = gate.await;
            }
            Ok(found)
        })
    }
}

/// A reader caught at the worst moment: it has read customer `id` from
/// MongoDB and is held at a gate, while the customer is renamed "After" and
/// the cache told. Sending on `open` lets the reader go on.
struct CaughtReader {
    cache: CustomerCache,
    id: ObjectId,
    open: tokio::sync::oneshot::Sender<()>,
    slow: tokio::task::JoinHandle<Lookup>,
}

async fn catch_a_reader_during_an_update(env: &TestEnv) -> CaughtReader {
    catch_a_reader_during_an_update_after(env, Before::Nothing).await
}

/// What happens to the customer's generation while the caught reader waits,
/// before the update.
#[derive(PartialEq)]
enum Before {
    Nothing,
    /// The generation key expires (deleted here, as its expiry would).
    GenerationExpires,
}

async fn catch_a_reader_during_an_update_after(env: &TestEnv, before: Before) -> CaughtReader {
    let id = some_customer(env).await;
    let (open, gate) = tokio::sync::oneshot::channel();
    let fetched = Arc::new(tokio::sync::Notify::new());
    let reader = GatedReader {
        customers: collections::customers(env.database()),
        gate: std::sync::Mutex::new(Some(gate)),
        fetched: fetched.clone(),
    };
    let store = RedisStore::new(env.redis_connection().await, Duration::from_millis(250));
    let cache = CustomerCache::new(store, reader);
    let slow = tokio::spawn({
        let cache = cache.clone();
        async move { cache.get(id).await.unwrap() }
    });
    fetched.notified().await;
    if before == Before::GenerationExpires {
        let mut redis = env.redis_connection().await;
        let _: i64 = lab::redis::cmd("DEL")
            .arg(customer::generation_key(id))
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    // The slow reader holds the old document. Now the customer changes.
    collections::customers(env.database())
        .update_one(doc! { "_id": id }, doc! { "$set": { "name": "After" } })
        .await
        .unwrap();
    cache.invalidate(id).await;
    CaughtReader {
        cache,
        id,
        open,
        slow,
    }
}

lab::on_each_topology! {
    async fn a_slow_reader_cannot_write_back_a_copy_older_than_an_update(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let caught = catch_a_reader_during_an_update(&env).await;
    caught.open.send(()).unwrap();
    assert_ne!(
        name_in(&caught.slow.await.unwrap()),
        "After",
        "it read before the update"
    );
    assert_eq!(caught.cache.stats().stale_write_backs_refused, 1);
    assert_eq!(
        name_in(&caught.cache.get(caught.id).await.unwrap()),
        "After",
        "the old copy was not cached"
    );
}
}

/// A customer's generation expires two hours after its last write, and a
/// reader that saw it before it expired still cannot write back a copy
/// older than the next update: the generation that comes back is new (the
/// clock's), not a counter starting again at a value the reader holds.
#[tokio::test]
async fn a_generation_lasts_two_hours_and_one_that_expired_still_stops_a_stale_copy() {
    let env = TestEnv::start_seeded().await;
    let id = some_customer(&env).await;
    let cache = cache_for(&env).await;
    cache.invalidate(id).await;
    let mut redis = env.redis_connection().await;
    let lasts: i64 = lab::redis::cmd("PTTL")
        .arg(customer::generation_key(id))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        (customer::GENERATION_TTL.as_millis() as i64 - 60_000
            ..=customer::GENERATION_TTL.as_millis() as i64)
            .contains(&lasts),
        "the generation expires: {lasts} ms left"
    );

    let caught = catch_a_reader_during_an_update_after(&env, Before::GenerationExpires).await;
    caught.open.send(()).unwrap();
    assert_ne!(name_in(&caught.slow.await.unwrap()), "After");
    assert_eq!(caught.cache.stats().stale_write_backs_refused, 1);
    assert_eq!(
        name_in(&caught.cache.get(caught.id).await.unwrap()),
        "After",
        "the old copy was not cached"
    );
}

lab::on_each_topology! {
    async fn a_read_after_an_update_does_not_join_a_load_that_began_before_it(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let caught = catch_a_reader_during_an_update(&env).await;
    let later = tokio::time::timeout(Duration::from_secs(5), caught.cache.get(caught.id))
        .await
        .expect("a read after the update starts its own load instead of waiting")
        .unwrap();
    assert_eq!(name_in(&later), "After");
    caught.open.send(()).unwrap();
    caught.slow.await.unwrap();
    assert_eq!(caught.cache.stats().coalesced, 0);
}
}

#[tokio::test]
async fn with_redis_gone_reads_come_from_mongodb_and_writes_still_land() {
    let env = TestEnv::start_seeded().await;
    let server = stoppable_redis().await;
    let redis = connect_redis(server.url(), Origin::Lab).await.unwrap();
    let cache = CustomerCache::new(
        RedisStore::new(redis, Duration::from_millis(200)),
        collections::customers(env.database()),
    );
    let id = some_customer(&env).await;
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Database);
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Cache);

    server.stop();
    for _ in 0..5 {
        let lookup = cache.get(id).await.unwrap();
        assert_eq!(source(&lookup), Source::Database, "Redis is down");
    }
    collections::customers(env.database())
        .update_one(doc! { "_id": id }, doc! { "$set": { "name": "Renamed" } })
        .await
        .unwrap();
    cache.invalidate(id).await;
    assert_eq!(name_in(&cache.get(id).await.unwrap()), "Renamed");
    let stats = cache.stats();
    assert!(stats.fallbacks >= 6, "{stats:?}");
    assert_eq!(stats.invalidations_deferred, 1, "{stats:?}");
    assert_eq!(cache.retry_pending().await, 1, "still waiting for Redis");
}

#[tokio::test]
async fn a_deferred_invalidation_is_applied_before_the_cache_is_trusted_again() {
    let env = TestEnv::start_seeded().await;
    let server = stoppable_redis().await;
    let admin = connect_redis(server.url(), Origin::Lab).await.unwrap();
    let cache = CustomerCache::new(
        RedisStore::new(admin.clone(), Duration::from_millis(100)),
        collections::customers(env.database()),
    );
    let id = some_customer(&env).await;
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Database);
    collections::customers(env.database())
        .update_one(doc! { "_id": id }, doc! { "$set": { "name": "Renamed" } })
        .await
        .unwrap();
    // Redis still answers reads but refuses scripts: the entry is now
    // stale and the invalidation cannot get through.
    let acl = |rule: &'static str| {
        let mut admin = admin.clone();
        async move {
            let _: () = redis::cmd("ACL")
                .arg("SETUSER")
                .arg("default")
                .arg(rule)
                .query_async(&mut admin)
                .await
                .unwrap();
        }
    };
    acl("-@scripting").await;
    cache.invalidate(id).await;
    assert_eq!(cache.stats().invalidations_deferred, 1);
    assert_eq!(
        name_in(&cache.get(id).await.unwrap()),
        "Renamed",
        "the stale entry is not served while its invalidation waits"
    );
    acl("+@all").await;
    assert_eq!(cache.retry_pending().await, 0, "Redis takes scripts again");
    assert_eq!(name_in(&cache.get(id).await.unwrap()), "Renamed");
    assert_eq!(source(&cache.get(id).await.unwrap()), Source::Cache);
}

lab::on_each_topology! {
    async fn an_entry_that_is_not_json_is_never_served_and_gets_replaced(topology) {
    let env = TestEnv::start_seeded_on(topology).await;
    let cache = cache_for(&env).await;
    let id = some_customer(&env).await;
    let mut redis = env.redis_connection().await;
    let _: () = redis::cmd("SET")
        .arg(customer::entry_key(id))
        .arg("{not json")
        .query_async(&mut redis)
        .await
        .unwrap();
    let lookup = cache.get(id).await.unwrap();
    assert_eq!(source(&lookup), Source::Database);
    let again = cache.get(id).await.unwrap();
    assert_eq!(source(&again), Source::Cache);
    assert_eq!(name_in(&again), name_in(&lookup));
}
}

// The three patterns, as building blocks.

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Card {
    name: String,
}

#[tokio::test]
async fn cache_aside_loads_on_a_miss_and_forgets_on_invalidate() {
    let env = TestEnv::start().await;
    let aside = CacheAside::new(
        RedisStore::new(env.redis().await, Duration::from_millis(250)),
        Duration::from_secs(60),
    );
    let loads = std::sync::atomic::AtomicU32::new(0);
    let load = async || {
        loads.fetch_add(1, Ordering::Relaxed);
        Ok::<_, ()>(Some(Card { name: "Ada".into() }))
    };
    let (card, first) = aside.get("card:1", load).await.unwrap().unwrap();
    assert_eq!((card.name.as_str(), first), ("Ada", Source::Database));
    let (_, second) = aside.get("card:1", load).await.unwrap().unwrap();
    assert_eq!(second, Source::Cache);
    aside.invalidate("card:1").await;
    let (_, third) = aside.get("card:1", load).await.unwrap().unwrap();
    assert_eq!(third, Source::Database);
    assert_eq!(loads.load(Ordering::Relaxed), 2);
    let none = aside
        .get::<Card, ()>("card:2", async || Ok(None))
        .await
        .unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn write_through_caches_only_what_the_database_accepted() {
    let env = TestEnv::start().await;
    let through = WriteThrough::new(
        RedisStore::new(env.redis().await, Duration::from_millis(250)),
        Duration::from_secs(60),
    );
    let ada = Card { name: "Ada".into() };
    through
        .write("card:1", &ada, async |_| Ok::<_, ()>(()))
        .await
        .unwrap();
    assert_eq!(through.read::<Card>("card:1").await, Some(ada.clone()));
    let refused = through
        .write("card:2", &ada, async |_| Err::<(), _>("disk full"))
        .await;
    assert_eq!(refused, Err("disk full"));
    assert_eq!(through.read::<Card>("card:2").await, None);
}

struct Directory;

impl Loader for Directory {
    type Value = Card;
    type Error = std::convert::Infallible;

    async fn load(&self, key: &str) -> Result<Option<Card>, Self::Error> {
        Ok(key.strip_prefix("card:").map(|name| Card {
            name: name.to_owned(),
        }))
    }
}

#[tokio::test]
async fn read_through_loads_by_itself() {
    let env = TestEnv::start().await;
    let through = ReadThrough::new(
        RedisStore::new(env.redis().await, Duration::from_millis(250)),
        Duration::from_secs(60),
        Directory,
    );
    let (card, first) = through.get("card:Grace").await.unwrap().unwrap();
    assert_eq!((card.name.as_str(), first), ("Grace", Source::Database));
    let (_, second) = through.get("card:Grace").await.unwrap().unwrap();
    assert_eq!(second, Source::Cache);
    assert_eq!(through.get("other").await.unwrap(), None);
}
