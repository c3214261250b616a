//! Graded tests of the cache-aside exercise, shared by `exercises` and
//! `solutions`. The store is the test data set's customers in MongoDB, read
//! through the test's client so its commands are recorded; Redis is the
//! test's own. Besides the answers, the tests check the technique: a hit is
//! one GET and no MongoDB command, a miss is one read of MongoDB and one
//! SET with its expiry (or SET and EXPIRE in one MULTI/EXEC), a missing
//! customer is remembered, and a change is written to MongoDB before the
//! cached copy, and only that one, is deleted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::cache_aside::*;
use lab::bson::doc;
use lab::bson::oid::ObjectId;
use lab::mongodb::Collection;
use lab::redis::AsyncCommands;
use lab::redis::aio::ConnectionManager;
use lab::testing::redis_log::Context;
use lab::testing::{
    MongoLog, RedisCommand, RedisLog, TestEnv, inspect, restricted_redis, stoppable_redis,
};
use serde_json::Value;

/// What the store writes into the Redis log (with ECHO, from a connection
/// of its own) once MongoDB has the new email, so the order of the store's
/// write and the cache's invalidation can be read from one log.
const SAVED_MARKER: &str = "store-saved";

/// MongoDB's customers, counting reads, and marking in Redis's log the
/// moment an email is saved.
struct CountingStore {
    customers: Collection<lab::billing::Customer>,
    redis: ConnectionManager,
    loads: Arc<AtomicU32>,
}

impl CustomerStore for CountingStore {
    async fn load(&self, id: &str) -> Option<String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let id = ObjectId::parse_str(id).ok()?;
        let customer = self.customers.find_one(doc! { "_id": id }).await.ok()??;
        Some(lab::billing::json::CustomerJson::of(&customer).to_json())
    }

    async fn save_email(&self, id: &str, email: &str) -> bool {
        let Ok(id) = ObjectId::parse_str(id) else {
            return false;
        };
        let saved = self
            .customers
            .update_one(doc! { "_id": id }, doc! { "$set": { "email": email } })
            .await
            .map(|result| result.matched_count == 1)
            .unwrap_or(false);
        let mut redis = self.redis.clone();
        let _: String = lab::redis::cmd("ECHO")
            .arg(SAVED_MARKER)
            .query_async(&mut redis)
            .await
            .unwrap();
        saved
    }
}

async fn setup() -> (TestEnv, ConnectionManager, CountingStore, String) {
    let env = TestEnv::start_seeded().await;
    let redis = env.redis().await;
    let customers = lab::billing::collections::customers(env.database());
    let id = customers
        .find_one(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .unwrap()
        .id
        .to_hex();
    let store = CountingStore {
        customers,
        redis: env.redis().await,
        loads: Arc::default(),
    };
    (env, redis, store, id)
}

/// Whether `command` stores a value together with its expiry: SETEX,
/// PSETEX, or SET with EX, PX, EXAT or PXAT.
fn stores_with_expiry(command: &RedisCommand) -> bool {
    match command.name.as_str() {
        "SETEX" | "PSETEX" => true,
        "SET" => ["EX", "PX", "EXAT", "PXAT"]
            .iter()
            .any(|option| command.has_option(option)),
        _ => false,
    }
}

/// Whether a miss cached its answer with the expiry at once: one command
/// that stores the value with its expiry, or several that all ran inside one
/// MULTI/EXEC transaction (or one script), where nothing, not even a crash,
/// can come between the SET and the EXPIRE.
fn cached_with_its_expiry_at_once(sent: &RedisLog) -> bool {
    let writes: Vec<&RedisCommand> = sent
        .data_commands()
        .into_iter()
        .filter(|c| c.name != "GET")
        .collect();
    match writes.as_slice() {
        [] => false,
        [write] => stores_with_expiry(write),
        many => many.iter().all(|c| c.context != Context::Client) && sent.count("EXEC") <= 1,
    }
}

/// Runs `call` recording what it sends to Redis and to MongoDB.
async fn recorded<T>(env: &TestEnv, call: impl Future<Output = T>) -> (T, RedisLog, MongoLog) {
    let redis = env.record_redis().await;
    let mongo = env.record_mongo();
    let answer = call.await;
    let mongo = mongo.finish();
    let redis = redis.finish().await;
    (answer, redis, mongo)
}

/// The cache as a snapshot: every key with `id` replaced by `[id]`, and a
/// cached customer's JSON parsed, its id and sign-up time redacted.
async fn cache_contents(redis: &mut ConnectionManager, id: &str) -> Value {
    let Value::Object(all) = inspect::dump(redis).await else {
        return Value::Null;
    };
    let mut redacted = serde_json::Map::new();
    for (key, mut entry) in all {
        if let Some(text) = entry["value"].as_str()
            && let Ok(Value::Object(mut customer)) = serde_json::from_str::<Value>(text)
        {
            for (field, mark) in [("_id", "[id]"), ("created_at", "[time]")] {
                if customer.contains_key(field) {
                    customer.insert(field.to_owned(), Value::from(mark));
                }
            }
            entry["value"] = Value::Object(customer);
        }
        redacted.insert(key.replace(id, "[id]"), entry);
    }
    Value::Object(redacted)
}

#[tokio::test]
async fn a_miss_reads_the_store_once_and_later_reads_come_from_redis() {
    let (env, mut redis, store, id) = setup().await;
    let key = format!("customer:{id}");
    let ((first, origin), sent, mongo) = recorded(&env, async {
        get_customer(&mut redis.clone(), &store, &id)
            .await
            .expect("get_customer returned an error")
    })
    .await;
    assert_eq!(
        origin,
        Origin::Database,
        "the first read of a customer finds nothing in Redis, so its answer comes from the store: \
         `Origin::Database`"
    );
    let first = first.expect(
        "get_customer answered None for a customer that exists: on a miss, answer what \
         `store.load(id)` returned",
    );
    assert!(
        sent.commands
            .first()
            .is_some_and(|get| get.name == "GET" && get.args.first() == Some(&key)),
        "cache-aside looks in Redis first, with one GET of the key: get_customer must start with \
         GET {key}, it sent {}",
        sent.listing()
    );
    assert_eq!(
        mongo.count("find"),
        1,
        "a miss reads MongoDB once, through `store.load(id)`; get_customer sent {}",
        mongo.listing()
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        std::slice::from_ref(&key),
        "after a miss the answer is cached under `customer:{{id}}`, and nothing else is written"
    );
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(first.as_str()),
        "after a miss, `customer:{{id}}` holds the store's JSON exactly as `store.load` returned it"
    );
    lab::graded_snapshot!(
        "cache_aside_cached_customer",
        cache_contents(&mut redis, &id).await,
        "after a miss Redis must hold one string key, `customer:{id}`, with the customer's JSON \
         from the store, expiring"
    );
    for round in 1..=3 {
        let ((again, origin), sent, mongo) = recorded(&env, async {
            get_customer(&mut redis.clone(), &store, &id)
                .await
                .expect("get_customer returned an error")
        })
        .await;
        assert_eq!(
            origin,
            Origin::Cache,
            "read {round} after the miss finds the customer in Redis: `Origin::Cache`"
        );
        assert_eq!(
            again.as_deref(),
            Some(first.as_str()),
            "a hit answers the cached JSON, the same the store gave"
        );
        assert_eq!(
            sent.names(),
            ["GET"],
            "a hit is one GET and nothing else (no EXISTS first, no write back); get_customer \
             sent {}",
            sent.listing()
        );
        assert!(
            mongo.commands.is_empty(),
            "a hit must not reach MongoDB at all: answer from the cached value without calling \
             `store.load`; get_customer sent {}",
            mongo.listing()
        );
    }
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        1,
        "one miss and three hits read the store once: call `store.load` only when GET found \
         nothing"
    );
    // A Redis whose user may not read: the GET is refused (NOPERM).
    let server = stoppable_redis().await;
    let mut refusing = restricted_redis(&server, &["-@read"]).await;
    let outcome = get_customer(&mut refusing, &store, &id).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the GET (here its user may not read), get_customer must return that \
         error (`?` on the GET), and it answered {outcome:?}: a cache that cannot be read is not \
         a miss. Read as one, every request goes to MongoDB while Redis is failing, the whole \
         load lands on the store at once, and nobody learns that the cache is broken"
    );
    // A Redis whose user may read but not write: the miss is read from the
    // store, and the SET that would cache it is refused.
    let read_only = restricted_redis(&server, &["-@write"]).await;
    let outcome = get_customer(&mut read_only.clone(), &store, &id).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses to keep the customer after a miss (here its user may not write), the \
         entry cannot be written, and get_customer must return that error (`?` on the SET), as \
         for a refused GET; it answered {outcome:?}. Dropped, the error leaves a cache that never \
         fills: every request reads MongoDB and nobody learns why"
    );
}

#[tokio::test]
async fn cached_customers_expire_after_an_hour() {
    let (env, mut redis, store, id) = setup().await;
    let key = format!("customer:{id}");
    let (_, sent, _) = recorded(&env, async {
        get_customer(&mut redis.clone(), &store, &id)
            .await
            .expect("get_customer returned an error")
    })
    .await;
    let ttl = inspect::ttl(&mut redis, &key).await;
    assert!(
        matches!(ttl, Some(seconds) if (3590..=3960).contains(&seconds)),
        "a cached customer must expire after TTL_SECONDS (an hour), TTL of {key} says {ttl:?}: \
         an entry that never expires serves stale data forever"
    );
    assert!(
        cached_with_its_expiry_at_once(&sent),
        "get_customer sent {}: a miss caches the answer with its expiry in one command \
         (SETEX, or SET with EX) or one MULTI/EXEC transaction; with SET and then EXPIRE sent \
         on their own, a crash between the two leaves an entry that never expires",
        sent.listing()
    );
}

#[tokio::test]
async fn a_missing_customer_is_remembered_briefly() {
    let (env, mut redis, store, _) = setup().await;
    let nobody = ObjectId::new().to_hex();
    let key = format!("customer:{nobody}");
    let ((found, origin), sent, mongo) = recorded(&env, async {
        get_customer(&mut redis.clone(), &store, &nobody)
            .await
            .expect("get_customer returned an error")
    })
    .await;
    assert_eq!(
        (found, origin),
        (None, Origin::Database),
        "a customer that does not exist is answered None, from the store the first time"
    );
    assert_eq!(
        mongo.count("find"),
        1,
        "the first lookup of a missing customer reads MongoDB once; get_customer sent {}",
        mongo.listing()
    );
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some("null"),
        "a missing customer is remembered as a negative entry: the text `null` under `{key}`, \
         so the next lookup of that id does not reach MongoDB"
    );
    let ttl = inspect::ttl(&mut redis, &key).await;
    assert!(
        matches!(ttl, Some(seconds) if (1..=33).contains(&seconds)),
        "a negative entry must be short: it expires after MISSING_TTL_SECONDS (30 s), TTL says \
         {ttl:?}; a customer created later must not stay \"missing\" for an hour"
    );
    assert!(
        cached_with_its_expiry_at_once(&sent),
        "get_customer sent {}: the negative entry is stored with its expiry in one command \
         (SETEX, or SET with EX) or one MULTI/EXEC transaction",
        sent.listing()
    );
    lab::graded_snapshot!(
        "cache_aside_negative_entry",
        cache_contents(&mut redis, &nobody).await,
        "after looking up a missing customer, Redis must hold only `customer:{id}` with the text \
         `null`, expiring"
    );
    for round in 1..=2 {
        let ((found, origin), sent, mongo) = recorded(&env, async {
            get_customer(&mut redis.clone(), &store, &nobody)
                .await
                .expect("get_customer returned an error")
        })
        .await;
        assert_eq!(
            found, None,
            "the negative entry `null` means no such customer: a hit on it answers None, not \
             the text \"null\""
        );
        assert_eq!(
            origin,
            Origin::Cache,
            "lookup {round} of a missing customer is answered by the negative entry: \
             `Origin::Cache`"
        );
        assert!(
            mongo.commands.is_empty() && sent.names() == ["GET"],
            "the negative entry is there so that a wrong id does not reach MongoDB again: \
             lookup {round} must be one GET, it sent {} to Redis and {} to MongoDB",
            sent.listing(),
            mongo.listing()
        );
    }
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        1,
        "three lookups of a missing customer read the store once: the miss is cached too"
    );
    // A Redis whose user may read but not write: the lookup misses, the
    // store finds nobody, and the SETEX of the negative entry is refused.
    let server = stoppable_redis().await;
    let mut read_only = restricted_redis(&server, &["-@write"]).await;
    let outcome = get_customer(&mut read_only, &store, &nobody).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses to keep the negative entry (here its user may not write), \
         get_customer must return that error (`?` on that SETEX too), as for a customer's \
         entry; it answered {outcome:?}. The negative entry is what keeps a wrong id away from \
         MongoDB: dropped in silence, its error leaves every lookup of that id reading the store \
         again, and nobody learns why"
    );
}

#[tokio::test]
async fn a_changed_email_is_saved_then_the_cached_copy_removed() {
    let (env, mut redis, store, id) = setup().await;
    let key = format!("customer:{id}");
    // A second customer, cached too: changing the first must leave it.
    let first = ObjectId::parse_str(&id).unwrap();
    let other = store
        .customers
        .find_one(doc! { "_id": { "$gt": first } })
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .expect("the test data has a second customer")
        .id
        .to_hex();
    let other_key = format!("customer:{other}");
    for customer in [&id, &other] {
        get_customer(&mut redis, &store, customer)
            .await
            .expect("get_customer returned an error");
    }
    let (existed, sent, _) = recorded(&env, async {
        change_email(&mut redis.clone(), &store, &id, "new@example.com")
            .await
            .expect("change_email returned an error")
    })
    .await;
    assert!(
        existed,
        "change_email answers what `store.save_email` answered: true for a customer that exists"
    );
    assert!(
        !sent.used_any(&["SET", "SETEX", "PSETEX"]),
        "invalidate by deleting the entry, not by writing a new copy: two writes that race can \
         land in the wrong order, a delete always leaves \"ask the database\"; change_email sent {}",
        sent.listing()
    );
    let saved_at = sent
        .commands
        .iter()
        .position(|c| c.name == "ECHO" && c.args.first().map(String::as_str) == Some(SAVED_MARKER));
    // An expiry of 0 or less deletes the key at once, as Redis documents.
    let deletes = |c: &RedisCommand| match c.name.as_str() {
        "DEL" | "UNLINK" | "GETDEL" => c.args.contains(&key),
        "EXPIRE" | "PEXPIRE" => {
            c.args.first() == Some(&key)
                && c.args
                    .get(1)
                    .and_then(|time| time.parse::<i64>().ok())
                    .is_some_and(|time| time <= 0)
        }
        _ => false,
    };
    let deleted_after_save = saved_at.is_some_and(|at| sent.commands[at..].iter().any(deletes));
    assert!(
        deleted_after_save,
        "a change is written to the store first and the cached copy deleted after (deleting \
         first leaves a moment in which a reader caches the old email again); change_email sent \
         {} (ECHO {SAVED_MARKER} marks the moment the store had the new email)",
        sent.listing()
    );
    let left = inspect::keys(&mut redis).await;
    assert!(
        left.contains(&other_key),
        "change_email must delete only the changed customer's key, `{key}`: another customer's \
         cached copy, `{other_key}`, is gone after the change (Redis holds {left:?}); \
         change_email sent {}. Wiping every `customer:*` key empties the cache for every \
         customer at each change, so their next reads all go to MongoDB at once, and KEYS \
         blocks Redis while it walks the whole keyspace",
        sent.listing()
    );
    assert_eq!(
        left,
        std::slice::from_ref(&other_key),
        "after a change the stale copy under `{key}` must be gone, the other customer's copy \
         left alone, and nothing else written"
    );
    // No cached copy now: a change must still find the customer.
    let existed_uncached = change_email(&mut redis, &store, &id, "new@example.com")
        .await
        .expect("change_email returned an error");
    assert!(
        existed_uncached,
        "change_email answered false for a customer that exists but has no cached copy (the \
         change before deleted it): the answer comes from what the store's save reports \
         (`store.save_email` answered true), not from how many keys DEL removed; a customer \
         nobody has read lately still exists"
    );
    let (after, origin) = get_customer(&mut redis, &store, &id)
        .await
        .expect("get_customer returned an error");
    assert_eq!(
        origin,
        Origin::Database,
        "the read after a change misses and goes to the store"
    );
    assert!(
        after.is_some_and(|json| json.contains("new@example.com")),
        "the read after a change must give the new email"
    );
    let unknown = ObjectId::new().to_hex();
    assert!(
        !change_email(&mut redis, &store, &unknown, "x@example.com")
            .await
            .expect("change_email returned an error"),
        "changing the email of a customer that does not exist answers false, as \
         `store.save_email` does"
    );
    // The unknown id looked up first: its negative entry `null` is cached.
    get_customer(&mut redis, &store, &unknown)
        .await
        .expect("get_customer returned an error");
    assert!(
        !change_email(&mut redis, &store, &unknown, "x@example.com")
            .await
            .expect("change_email returned an error"),
        "change_email answered true for an id that does not exist, whose negative entry `null` \
         was cached: the answer comes from what the store's save reports (`store.save_email` \
         answered false), not from how many keys DEL removed"
    );
    // A Redis whose user may not delete: the invalidation fails.
    let server = stoppable_redis().await;
    let mut filling = lab::services::connect_redis(server.url(), lab::services::Origin::Lab)
        .await
        .expect("the test's Redis answers");
    get_customer(&mut filling, &store, &id)
        .await
        .expect("get_customer returned an error");
    // EXPIRE too: an expiry of 0 is a delete.
    let refusing = restricted_redis(
        &server,
        &["-del", "-unlink", "-getdel", "-expire", "-pexpire"],
    )
    .await;
    let outcome = change_email(&mut refusing.clone(), &store, &id, "newer@example.com").await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the DEL (here its user may not delete), the cached copy is not \
         deleted and keeps serving the old email for an hour: change_email must return that \
         error (`?` on the DEL) so the caller knows the change is not visible yet, it answered \
         {outcome:?}"
    );

    // The customer is removed from the store while its copy is cached: the
    // save finds nobody, and the cached copy must go all the same.
    assert!(
        inspect::keys(&mut redis).await.contains(&key),
        "the read after the change cached the customer again under {key}"
    );
    let oid = ObjectId::parse_str(&id).unwrap();
    store
        .customers
        .delete_one(doc! { "_id": oid })
        .await
        .unwrap();
    let existed = change_email(&mut redis, &store, &id, "gone@example.com")
        .await
        .expect("change_email returned an error");
    assert!(
        !existed,
        "the customer was removed from the store, so change_email answers false"
    );
    let left: Option<String> = redis.get(&key).await.unwrap();
    assert!(
        left.is_none() || left.as_deref() == Some("null"),
        "the customer was removed from the store while its copy was cached, and \
         `store.save_email` answered false; change_email must still remove the cached copy, or \
         a customer who no longer exists is served from Redis for up to an hour: delete the \
         cached copy after every save, whatever the store answered"
    );

    // What the first change sent to Redis: deletes of the key, nothing else.
    let looks: Vec<&RedisCommand> = sent
        .commands
        .iter()
        .filter(|c| c.name != "ECHO" && !deletes(c))
        .collect();
    assert!(
        looks.is_empty(),
        "invalidating is one DEL of the customer's key: deleting a key that is not there is no \
         error (DEL answers 0), so there is nothing to ask first; a look before the delete \
         ({}) is a second round trip on every change, and the entry can appear in between; \
         change_email sent {}",
        looks
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        sent.listing()
    );
}
