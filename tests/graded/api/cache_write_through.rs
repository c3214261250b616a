//! Graded tests of the write-through and read-through exercise, shared by
//! `exercises` and `solutions`. The store is the test data set's customers
//! in MongoDB, used through the test's client so its commands are recorded;
//! Redis is the test's own. Besides the answers, the tests check the
//! technique: a hit is one GET and no MongoDB command, a miss is one read of
//! MongoDB and one SET with its expiry (a GET or a fill Redis refuses is
//! reported), a save reaches MongoDB before it
//! writes the new value (not a delete) into Redis, a Redis write that fails
//! after the store took the change is reported, a save the store refuses or
//! cannot match leaves Redis alone, and a slow read's fill never replaces a
//! value a save wrote meanwhile. An unknown customer is `None`, not an error,
//! and is not cached; a store that fails is an error, not `None`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::cache_write_through::*;
use lab::billing::Customer;
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
use tokio::sync::oneshot;

/// What the store writes into the Redis log (with ECHO, from a connection
/// of its own) once MongoDB has answered a save, so the order of the
/// store's write and the cache's write can be read from one log.
const SAVED_MARKER: &str = "store-saved";

/// Holds one load after it read MongoDB: says so on `loaded`, then waits
/// for `resume` before handing the customer back.
struct Hold {
    loaded: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

/// MongoDB's customers, counting loads, marking in Redis's log the moment
/// a save was answered, and able to hold a load at the worst moment.
struct MongoStore {
    customers: Collection<Customer>,
    redis: ConnectionManager,
    loads: Arc<AtomicU32>,
    hold: Arc<Mutex<Option<Hold>>>,
}

impl CustomerStore for MongoStore {
    async fn load(&self, id: ObjectId) -> Result<Option<Customer>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let found = self.customers.find_one(doc! { "_id": id }).await?;
        let hold = self.hold.lock().unwrap().take();
        if let Some(hold) = hold {
            let _ = hold.loaded.send(());
            let _ = hold.resume.await;
        }
        Ok(found)
    }

    async fn save(&self, customer: &Customer) -> Result<bool, StoreError> {
        let result = self
            .customers
            .replace_one(doc! { "_id": customer.id }, customer)
            .await;
        let mut redis = self.redis.clone();
        let _: String = lab::redis::cmd("ECHO")
            .arg(SAVED_MARKER)
            .query_async(&mut redis)
            .await
            .unwrap();
        Ok(result?.matched_count == 1)
    }
}

/// A store whose MongoDB does not answer: every call fails, as a read
/// that timed out does.
struct DownStore;

impl DownStore {
    fn timed_out() -> StoreError {
        StoreError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "MongoDB did not answer in time",
        ))
    }
}

impl CustomerStore for DownStore {
    async fn load(&self, _id: ObjectId) -> Result<Option<Customer>, StoreError> {
        Err(DownStore::timed_out())
    }

    async fn save(&self, _customer: &Customer) -> Result<bool, StoreError> {
        Err(DownStore::timed_out())
    }
}

/// A store whose customer is deleted between a look and a save: `load`
/// still finds them, `save` matches nobody.
struct VanishingStore {
    customer: Customer,
}

impl CustomerStore for VanishingStore {
    async fn load(&self, _id: ObjectId) -> Result<Option<Customer>, StoreError> {
        Ok(Some(self.customer.clone()))
    }

    async fn save(&self, _customer: &Customer) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// A store over `customers` for a cache of the test's own (on a Redis that
/// refuses commands, say): its loads are neither counted nor held.
async fn plain_store(env: &TestEnv, customers: &Collection<Customer>) -> MongoStore {
    MongoStore {
        customers: customers.clone(),
        redis: env.redis().await,
        loads: Arc::default(),
        hold: Arc::default(),
    }
}

/// What a test works with: the cache under test over the seeded customers,
/// a connection of the test's own, and the first two customers by id.
/// Every test binds `env`, even unused: it owns the test's servers, and a
/// field left to `..` would be dropped, and the servers stopped, at once.
struct Setup {
    env: TestEnv,
    redis: ConnectionManager,
    cache: CustomerCache<MongoStore>,
    loads: Arc<AtomicU32>,
    hold: Arc<Mutex<Option<Hold>>>,
    customers: Collection<Customer>,
    first: Customer,
    second: Customer,
}

async fn setup() -> Setup {
    let env = TestEnv::start_seeded().await;
    let redis = env.redis().await;
    let customers = lab::billing::collections::customers(env.database());
    let mut cursor = customers
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .limit(2)
        .await
        .unwrap();
    let mut two = Vec::new();
    while cursor.advance().await.unwrap() {
        two.push(cursor.deserialize_current().unwrap());
    }
    let [first, second]: [Customer; 2] = two.try_into().unwrap();
    let loads = Arc::<AtomicU32>::default();
    let hold = Arc::<Mutex<Option<Hold>>>::default();
    let store = MongoStore {
        customers: customers.clone(),
        redis: env.redis().await,
        loads: loads.clone(),
        hold: hold.clone(),
    };
    let cache = CustomerCache::new(env.redis().await, store);
    Setup {
        env,
        redis,
        cache,
        loads,
        hold,
        customers,
        first,
        second,
    }
}

/// `customer` with another email, checked again as every `Customer` is.
fn with_email(customer: &Customer, email: &str) -> Customer {
    let mut fields = customer.clone().into_inner();
    fields.email = email.to_owned();
    Customer::check(fields).expect("the test's changed customer is valid")
}

/// `customer` under an id no stored customer has.
fn with_new_id(customer: &Customer) -> Customer {
    let mut fields = customer.clone().into_inner();
    fields.id = ObjectId::new();
    Customer::check(fields).expect("the test's new customer is valid")
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

/// Whether `command` writes or removes `key`.
fn changes(command: &RedisCommand, key: &str) -> bool {
    let writes = matches!(
        command.name.as_str(),
        "SET"
            | "SETEX"
            | "PSETEX"
            | "SETNX"
            | "GETSET"
            | "GETEX"
            | "MSET"
            | "APPEND"
            | "EXPIRE"
            | "PEXPIRE"
            | "EXPIREAT"
            | "PEXPIREAT"
            | "DEL"
            | "UNLINK"
            | "GETDEL"
    );
    writes && command.args.iter().any(|arg| arg == key)
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
async fn cache_contents(redis: &mut ConnectionManager, id: ObjectId) -> Value {
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
        redacted.insert(key.replace(&id.to_hex(), "[id]"), entry);
    }
    Value::Object(redacted)
}

#[tokio::test]
async fn a_miss_loads_once_and_later_reads_come_from_redis() {
    let Setup {
        env,
        mut redis,
        cache,
        loads,
        customers,
        first,
        ..
    } = setup().await;
    let key = format!("customer:{}", first.id);
    let expected = customer_json(&first);
    let ((answer, origin), sent, mongo) = recorded(&env, async {
        cache.get(first.id).await.expect("get returned an error")
    })
    .await;
    assert_eq!(
        origin,
        Origin::Database,
        "the first read of a customer finds nothing in Redis, so the cache loads it from the \
         store: `Origin::Database`"
    );
    assert_eq!(
        answer.as_deref(),
        Some(expected.as_str()),
        "on a miss, get answers the loaded customer as `customer_json` writes it"
    );
    assert!(
        sent.commands
            .first()
            .is_some_and(|get| get.name == "GET" && get.args.first() == Some(&key)),
        "a read-through cache looks in Redis first, with one GET of the key: get must start \
         with GET {key}, it sent {}",
        sent.listing()
    );
    assert_eq!(
        mongo.count("find"),
        1,
        "a miss reads MongoDB once, through `self.store.load(id)`; get sent {}",
        mongo.listing()
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        std::slice::from_ref(&key),
        "after a miss the loaded customer is kept under `customer:{{id}}`, and nothing else is \
         written"
    );
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(expected.as_str()),
        "after a miss, `customer:{{id}}` holds `customer_json` of the loaded customer, the text \
         the cache-aside exercise stores too"
    );
    lab::graded_snapshot!(
        "cache_write_through_loaded_customer",
        cache_contents(&mut redis, first.id).await,
        "after a miss Redis must hold one string key, `customer:{id}`, with the customer's JSON, \
         expiring"
    );
    for round in 1..=3 {
        let ((again, origin), sent, mongo) = recorded(&env, async {
            cache.get(first.id).await.expect("get returned an error")
        })
        .await;
        assert_eq!(
            origin,
            Origin::Cache,
            "read {round} after the miss finds the customer in Redis: `Origin::Cache`"
        );
        assert_eq!(
            again.as_deref(),
            Some(expected.as_str()),
            "a hit answers the cached JSON as it is"
        );
        assert_eq!(
            sent.names(),
            ["GET"],
            "a hit is one GET and nothing else (no EXISTS first, no write back); get sent {}",
            sent.listing()
        );
        assert!(
            mongo.commands.is_empty(),
            "a hit must not reach MongoDB at all: answer from the cached value without calling \
             `self.store.load`; get sent {}",
            mongo.listing()
        );
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "one miss and three hits load from the store once: call `self.store.load` only when GET \
         found nothing"
    );
    let nobody = ObjectId::new();
    let answer = cache.get(nobody).await;
    assert!(
        matches!(answer, Ok((None, Origin::Database))),
        "no customer has the id {nobody}: get must answer `Ok((None, Origin::Database))`, as \
         its doc says (`None` if there is no such customer; the store was read), and answered \
         {answer:?}. A customer that does not exist is an answer, not a failure: return `None` \
         when `self.store.load(id)` gives `None`, and keep errors for a store or a Redis that \
         did not answer"
    );
    let remembered = inspect::keys(&mut redis).await;
    assert_eq!(
        remembered,
        std::slice::from_ref(&key),
        "get of the unknown id {nobody} wrote to Redis: a customer that does not exist is not \
         remembered here (the module says so; cache-aside practised negative entries, with a \
         short TTL of their own). Kept for TTL_SECONDS, it would report a customer created \
         under that id as missing for an hour. When `self.store.load(id)` gives `None`, answer \
         `Ok((None, Origin::Database))` without writing anything"
    );
    let down = CustomerCache::new(env.redis().await, DownStore);
    let answer = down.get(ObjectId::new()).await;
    assert!(
        matches!(answer, Err(CacheError::Store(_))),
        "the store did not answer (its MongoDB timed out), and get answered {answer:?}: it must \
         pass the store's error on with `?`, as `CacheError::Store`. Read as `None`, an outage \
         turns every customer not in Redis into \"no such customer\" (a 404 for the API above), \
         and nobody can tell a database that is down from a wrong id"
    );
    // A Redis whose user may not read: the GET is refused (NOPERM).
    let server = stoppable_redis().await;
    let refusing = restricted_redis(&server, &["-@read"]).await;
    let store = plain_store(&env, &customers).await;
    let answer = CustomerCache::new(refusing, store).get(first.id).await;
    assert!(
        matches!(answer, Err(CacheError::Redis(_))),
        "when Redis refuses the GET (here its user may not read), get must return that error \
         (`?` on the GET, as `CacheError::Redis`), and it answered {answer:?}: a cache that \
         cannot be read is not a miss. Read as one, every request goes to the store while Redis \
         is failing, the whole load lands on MongoDB at once, and nobody learns that the cache \
         is broken"
    );
    // A Redis whose user may read but not write: the miss is loaded from
    // the store, and the SET that would keep it is refused.
    let read_only = restricted_redis(&server, &["-@write"]).await;
    let store = plain_store(&env, &customers).await;
    let answer = CustomerCache::new(read_only, store).get(first.id).await;
    assert!(
        matches!(answer, Err(CacheError::Redis(_))),
        "when Redis refuses the fill after a miss (here its user may not write), get must return \
         that error (`?` on the SET, as `CacheError::Redis`), as for a refused GET, and it \
         answered {answer:?}: a fill dropped in silence leaves a cache that never fills, so \
         every read lands on the store while Redis is failing and nobody learns that the cache \
         is broken"
    );
}

#[tokio::test]
async fn a_loaded_customer_is_cached_for_an_hour_in_one_command() {
    let Setup {
        env,
        mut redis,
        cache,
        first,
        ..
    } = setup().await;
    let key = format!("customer:{}", first.id);
    let (_, sent, _) = recorded(&env, async {
        cache.get(first.id).await.expect("get returned an error")
    })
    .await;
    let ttl = inspect::ttl(&mut redis, &key).await;
    assert!(
        matches!(ttl, Some(seconds) if (3590..=3960).contains(&seconds)),
        "a cached customer must expire after TTL_SECONDS (an hour), TTL of {key} says {ttl:?}: \
         an entry that never expires serves stale data forever"
    );
    // One command, or one script (or transaction) in which the write with
    // its expiry runs: nothing can come between a check and the write there.
    let writes: Vec<&RedisCommand> = sent
        .data_commands()
        .into_iter()
        .filter(|c| !(c.name == "GET" && c.context == Context::Client))
        .collect();
    let at_once = match writes.as_slice() {
        [write] => stores_with_expiry(write),
        many => many.iter().any(|c| stores_with_expiry(c)) && sent.ran_together(many),
    };
    assert!(
        at_once,
        "get sent {}: a miss keeps the loaded customer with its expiry in one command (SET with \
         NX and EX, or SETEX), or in one Lua script that runs such a write; with SET and then \
         EXPIRE, a crash between the two leaves an entry that never expires",
        sent.listing()
    );
    // GETs the client sent itself: one run inside a script with the fill is
    // part of that one step.
    let gets = sent
        .data_commands()
        .into_iter()
        .filter(|c| c.name == "GET" && c.context == Context::Client)
        .count();
    assert_eq!(
        gets,
        1,
        "get sent {}: a miss is one GET, then the fill; a second GET to see whether the key is \
         still absent before filling is a check and a write in two commands, and a save can land \
         between them and be overwritten by the older copy. SET with NX and EX checks and writes \
         in one command",
        sent.listing()
    );
}

#[tokio::test]
async fn a_save_writes_mongodb_first_then_the_new_value_to_redis() {
    let Setup {
        env,
        mut redis,
        cache,
        customers,
        first,
        ..
    } = setup().await;
    let key = format!("customer:{}", first.id);
    cache.get(first.id).await.expect("get returned an error");
    let changed = with_email(&first, "new.address@example.com");
    let (saved, sent, _) = recorded(&env, cache.save(&changed)).await;
    if let Err(error) = saved {
        panic!("save of a customer that exists must succeed, it answered the error: {error}");
    }
    assert!(
        !sent.used_any(&["DEL", "UNLINK", "GETDEL"]),
        "write-through writes the new value into Redis; it does not delete the entry (that is \
         cache-aside's invalidation, which makes the next read a miss); save sent {}",
        sent.listing()
    );
    let saved_at = sent
        .commands
        .iter()
        .position(|c| c.name == "ECHO" && c.args.first().map(String::as_str) == Some(SAVED_MARKER));
    let Some(saved_at) = saved_at else {
        panic!(
            "save must send the change to the store with `self.store.save(customer)`; save sent {}",
            sent.listing()
        );
    };
    let (before, after) = sent.commands.split_at(saved_at);
    assert!(
        !before.iter().any(|c| changes(c, &key)),
        "a change goes to the store first and into Redis after: written first, the cache would \
         hold a value MongoDB never had if the store then refused it; save sent {} (ECHO \
         {SAVED_MARKER} marks the moment the store answered)",
        sent.listing()
    );
    let written: Vec<&RedisCommand> = after.iter().filter(|c| changes(c, &key)).collect();
    assert!(
        !written.is_empty(),
        "after the store has the change, save must write the new value into Redis too: without \
         it a stale copy with the old email is served for an hour; save sent {}",
        sent.listing()
    );
    // One command, or a SET and its EXPIRE in one transaction or script:
    // no moment without an expiry either way.
    let expires = |c: &&RedisCommand| {
        stores_with_expiry(c)
            || matches!(
                c.name.as_str(),
                "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT"
            )
    };
    let at_once = match written.as_slice() {
        [write] => stores_with_expiry(write),
        many => many.iter().any(expires) && sent.ran_together(many),
    };
    assert!(
        at_once,
        "save writes the new value with its expiry in one command (SETEX, or SET with EX), or in \
         one transaction: a plain SET keeps it forever, and SET then EXPIRE sent one by one \
         leaves a moment without one; save sent {}",
        sent.listing()
    );
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored,
        Some(customer_json(&changed)),
        "after a save, `{key}` must hold the new customer's JSON: the write must overwrite the \
         older copy (SET without NX), as `customer_json` writes it"
    );
    let ttl = inspect::ttl(&mut redis, &key).await;
    assert!(
        matches!(ttl, Some(seconds) if (3590..=3960).contains(&seconds)),
        "a saved customer is cached for TTL_SECONDS (an hour), TTL of {key} says {ttl:?}"
    );
    let in_mongodb = customers
        .find_one(doc! { "_id": first.id })
        .await
        .unwrap()
        .map(|customer| customer.email.clone());
    assert_eq!(
        in_mongodb.as_deref(),
        Some("new.address@example.com"),
        "after a save MongoDB must hold the new email: save goes through `self.store.save`"
    );
    lab::graded_snapshot!(
        "cache_write_through_saved_customer",
        cache_contents(&mut redis, first.id).await,
        "after a save Redis must hold only `customer:{id}` with the changed customer's JSON, \
         expiring"
    );
    let ((after_save, origin), _, mongo) = recorded(&env, async {
        cache.get(first.id).await.expect("get returned an error")
    })
    .await;
    assert!(
        origin == Origin::Cache
            && mongo.commands.is_empty()
            && after_save.is_some_and(|json| json.contains("new.address@example.com")),
        "the read right after a save is a hit with the new email, with no MongoDB command: that \
         is what write-through is for; it came from {origin:?} and sent {} to MongoDB",
        mongo.listing()
    );
    // A Redis whose user may not write: the store takes the change, the
    // cache's write fails.
    let server = stoppable_redis().await;
    let refusing = restricted_redis(&server, &["-@write"]).await;
    let store = plain_store(&env, &customers).await;
    let refusing_cache = CustomerCache::new(refusing, store);
    let newer = with_email(&first, "newer.address@example.com");
    let outcome = refusing_cache.save(&newer).await;
    assert!(
        matches!(outcome, Err(CacheError::Redis(_))),
        "when Redis refuses the write after the store has the change (here its user may not \
         write), the cache keeps the old copy and serves the old email for an hour: save must \
         return Redis's error (`?` on the SETEX, as `CacheError::Redis`) so the caller knows the \
         change is not visible yet, not drop it and answer Ok; it answered {outcome:?}"
    );
}

#[tokio::test]
async fn a_refused_or_unknown_save_leaves_the_cache_alone() {
    let Setup {
        env,
        mut redis,
        cache,
        first,
        second,
        ..
    } = setup().await;
    let key = format!("customer:{}", first.id);
    cache.get(first.id).await.expect("get returned an error");
    let taken = with_email(&first, &second.email);
    let (refused, sent, _) = recorded(&env, cache.save(&taken)).await;
    assert!(
        matches!(refused, Err(CacheError::Store(_))),
        "MongoDB refuses a second customer with the same email (`email` has a unique index): save \
         must pass the store's error on with `?`, as `CacheError::Store`; it answered {refused:?}"
    );
    assert!(
        !sent.commands.iter().any(|c| changes(c, &key)),
        "the store refused the change, so save must leave Redis alone: the cache must never \
         hold a value MongoDB does not have; save sent {}",
        sent.listing()
    );
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored,
        Some(customer_json(&first)),
        "after a refused save, `{key}` still holds the customer as MongoDB has it"
    );
    let unknown = with_new_id(&first);
    let unknown_key = format!("customer:{}", unknown.id);
    let (answer, sent, _) = recorded(&env, cache.save(&unknown)).await;
    assert!(
        matches!(answer, Err(CacheError::NotFound { id }) if id == unknown.id),
        "the store matched no customer with that id (`self.store.save` answered `Ok(false)`): \
         save must answer `CacheError::NotFound {{ id }}`; it answered {answer:?}"
    );
    assert!(
        !sent.commands.iter().any(|c| changes(c, &unknown_key)),
        "the store matched no customer with that id, so save must not write `{unknown_key}`: \
         the cache would answer a customer that does not exist; save sent {}",
        sent.listing()
    );
    // The customer is there when looked at, and deleted before the save
    // reaches the store: only the save's own answer tells.
    let vanishing = CustomerCache::new(
        env.redis().await,
        VanishingStore {
            customer: second.clone(),
        },
    );
    let second_key = format!("customer:{}", second.id);
    let (answer, sent, _) = recorded(&env, vanishing.save(&second)).await;
    assert!(
        matches!(answer, Err(CacheError::NotFound { id }) if id == second.id)
            && !sent.commands.iter().any(|c| changes(c, &second_key)),
        "the store matched no customer with that id when it saved (`self.store.save` answered \
         `Ok(false)`: the customer was deleted after any look at them), so save must answer \
         `CacheError::NotFound {{ id }}` and leave `{second_key}` alone; it answered {answer:?} \
         and sent {}. Judge by what the store's save answers, not by a load before it: a \
         customer can go in between",
        sent.listing()
    );
}

#[tokio::test]
async fn a_slow_read_does_not_overwrite_a_newer_save() {
    let Setup {
        env: _env,
        mut redis,
        cache,
        hold,
        first,
        ..
    } = setup().await;
    let key = format!("customer:{}", first.id);
    let changed = with_email(&first, "changed.meanwhile@example.com");
    let (loaded_tx, loaded) = oneshot::channel();
    let (resume, resume_rx) = oneshot::channel();
    *hold.lock().unwrap() = Some(Hold {
        loaded: loaded_tx,
        resume: resume_rx,
    });
    // The read misses and loads the customer; while it is held, before it
    // fills the cache, a save changes the customer. Then the read goes on.
    let read = async {
        let read = cache.get(first.id).await;
        // A read that never loads must not leave the save waiting forever:
        // dropping the hold closes `loaded`.
        hold.lock().unwrap().take();
        read
    };
    let (read, saved) = tokio::join!(read, async {
        let _ = loaded.await;
        let saved = cache.save(&changed).await;
        let _ = resume.send(());
        saved
    });
    read.expect("get returned an error");
    saved.expect("save returned an error");
    let stored: Option<String> = redis.get(&key).await.unwrap();
    assert_eq!(
        stored,
        Some(customer_json(&changed)),
        "a read missed and loaded the customer, a save then wrote the new email into Redis, and \
         the read's late fill replaced it with the old copy: the cache now serves the old email \
         for an hour. Fill after a miss only if the key is still absent (SET with NX and EX), so \
         a fill never replaces a value a save wrote meanwhile"
    );
    let ttl = inspect::ttl(&mut redis, &key).await;
    assert!(
        ttl.is_some(),
        "after the read and the save, `{key}` must still expire, TTL says {ttl:?}"
    );
}
