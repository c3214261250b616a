//! Looking at what a Redis server or a MongoDB database holds, for tests
//! that grade server state as well as return values.

use redis::aio::ConnectionManager;

/// The type Redis reports for `key`: "string", "hash", "list", "set",
/// "zset", or "none" when it does not exist.
pub async fn key_type(redis: &mut ConnectionManager, key: &str) -> String {
    redis::cmd("TYPE")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("TYPE {key} failed: {error}"))
}

/// Seconds `key` has left: `None` when it has no expiry or does not exist.
pub async fn ttl(redis: &mut ConnectionManager, key: &str) -> Option<i64> {
    let seconds: i64 = redis::cmd("TTL")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("TTL {key} failed: {error}"));
    (seconds >= 0).then_some(seconds)
}

/// Every key in the database, sorted.
pub async fn keys(redis: &mut ConnectionManager) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("KEYS failed: {error}"));
    keys.sort();
    keys
}

/// The raw bytes stored at a string `key`.
pub async fn bytes(redis: &mut ConnectionManager, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("GET {key} failed: {error}"))
}

/// Everything the database holds, as JSON for a snapshot: each key with its
/// type, its value in a form that does not depend on how it was written
/// (a hash's fields and a set's members sorted, a sorted set as
/// `[member, score]` pairs by rank, bytes that are not text as their
/// length), and whether it expires (not the seconds left, which vary).
pub async fn dump(redis: &mut ConnectionManager) -> serde_json::Value {
    use serde_json::{Value, json};
    let mut all = serde_json::Map::new();
    for key in keys(redis).await {
        let kind = key_type(redis, &key).await;
        let query = |name: &str| {
            let mut command = redis::cmd(name);
            command.arg(&key);
            command
        };
        let value = match kind.as_str() {
            "string" => match bytes(redis, &key).await {
                Some(raw) => match String::from_utf8(raw) {
                    Ok(text) => Value::from(text),
                    Err(error) => json!({ "bytes": error.into_bytes().len() }),
                },
                None => Value::Null,
            },
            "hash" => {
                let fields: std::collections::BTreeMap<String, String> = query("HGETALL")
                    .query_async(redis)
                    .await
                    .unwrap_or_else(|error| panic!("HGETALL {key} failed: {error}"));
                json!(fields)
            }
            "list" => {
                let items: Vec<String> = query("LRANGE")
                    .arg(0)
                    .arg(-1)
                    .query_async(redis)
                    .await
                    .unwrap_or_else(|error| panic!("LRANGE {key} failed: {error}"));
                json!(items)
            }
            "set" => {
                let mut members: Vec<String> = query("SMEMBERS")
                    .query_async(redis)
                    .await
                    .unwrap_or_else(|error| panic!("SMEMBERS {key} failed: {error}"));
                members.sort();
                json!(members)
            }
            "zset" => {
                let pairs: Vec<(String, f64)> = query("ZRANGE")
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(redis)
                    .await
                    .unwrap_or_else(|error| panic!("ZRANGE {key} failed: {error}"));
                json!(pairs)
            }
            "stream" => {
                let length: u64 = query("XLEN")
                    .query_async(redis)
                    .await
                    .unwrap_or_else(|error| panic!("XLEN {key} failed: {error}"));
                json!({ "entries": length })
            }
            _ => Value::Null,
        };
        let expires = ttl(redis, &key).await.is_some();
        all.insert(
            key,
            json!({ "type": kind, "value": value, "expires": expires }),
        );
    }
    Value::Object(all)
}

/// Every document of `collection`, in `_id` order.
pub async fn documents(db: &mongodb::Database, collection: &str) -> Vec<bson::Document> {
    let mut cursor = db
        .collection::<bson::Document>(collection)
        .find(bson::doc! {})
        .sort(bson::doc! { "_id": 1 })
        .await
        .unwrap_or_else(|error| panic!("reading {collection} failed: {error}"));
    let mut all = Vec::new();
    while cursor
        .advance()
        .await
        .unwrap_or_else(|error| panic!("reading {collection} failed: {error}"))
    {
        all.push(
            cursor.deserialize_current().unwrap_or_else(|error| {
                panic!("a document of {collection} is unreadable: {error}")
            }),
        );
    }
    all
}

/// A BSON value as JSON that keeps the types a reader must see, for
/// snapshots and messages: an ObjectId as `{"$oid"}`, a Decimal128 as
/// `{"$numberDecimal"}`, a double as `{"$numberDouble"}` (money must never
/// be one); integers of either width as plain numbers, since the width is
/// the driver's choice, not the student's; keys come out sorted, so the
/// order of a document's fields does not matter.
pub fn shown(value: &bson::Bson) -> serde_json::Value {
    use bson::Bson;
    use serde_json::{Value, json};
    match value {
        Bson::Document(d) => Value::Object(d.iter().map(|(k, v)| (k.clone(), shown(v))).collect()),
        Bson::Array(items) => Value::Array(items.iter().map(shown).collect()),
        Bson::String(s) => json!(s),
        Bson::Int32(n) => json!(n),
        Bson::Int64(n) => json!(n),
        Bson::Double(x) => json!({ "$numberDouble": x.to_string() }),
        Bson::Boolean(b) => json!(b),
        Bson::Null => Value::Null,
        Bson::ObjectId(id) => json!({ "$oid": id.to_hex() }),
        Bson::Decimal128(d) => json!({ "$numberDecimal": d.to_string() }),
        Bson::DateTime(date) => {
            json!({ "$date": date.try_to_rfc3339_string().unwrap_or_default() })
        }
        other => json!(other.to_string()),
    }
}

/// How many job results each job has marked as its own (`completed`), by
/// job id: a job system that keeps its promise has exactly one per job.
pub async fn completed_results_per_job(
    database: &mongodb::Database,
) -> std::collections::HashMap<String, u32> {
    let mut per_job = std::collections::HashMap::new();
    let mut cursor = database
        .collection::<bson::Document>(crate::jobs::results::RESULTS)
        .find(bson::doc! { "completed": true })
        .await
        .unwrap_or_else(|error| panic!("reading the job results failed: {error}"));
    while cursor
        .advance()
        .await
        .unwrap_or_else(|error| panic!("reading the job results failed: {error}"))
    {
        let job = cursor
            .current()
            .get_str("job_id")
            .unwrap_or_else(|error| panic!("a job result without its job id: {error}"))
            .to_owned();
        *per_job.entry(job).or_default() += 1;
    }
    per_job
}
