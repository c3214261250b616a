//! Graded tests of the capstone, shared by `exercises` and `solutions`:
//! black-box over HTTP. Each test serves the student's router on a port of
//! its own (127.0.0.1, port 0) and talks to it as any client would, with a
//! plain HTTP/1.1 client written here (the lab's `lab::testing::http` calls
//! a router without a socket; this one goes through the network, the way
//! curl does). Every answer is read as a client reads it: status,
//! `Content-Type`, `Location`, and a JSON `{"error": ...}` on every refusal.
//!
//! Besides the answers, the tests check the technique, from what Redis and
//! MongoDB were sent: a customer read twice reaches MongoDB once and is then
//! one GET in Redis, cached with its expiry in the same command; a 404 is
//! remembered briefly or not at all; an analysis is queued, not run, in the
//! request; its result is the one `lab::analysis` computes; and a waiting
//! request is blocked in Redis, on a connection of its own, on the job's
//! event stream, until the job's final event, with no loop of reads.
//!
//! The lab's worker (`lab::jobs::worker::step`) runs the jobs, one step at
//! a time, when a test says so. Nothing here measures how fast an answer
//! came: whether a request is waiting is asked of Redis (`CLIENT LIST`),
//! and every bound on a wait is seconds wider than the wait itself.

use std::net::SocketAddr;
use std::time::Duration;

use super::capstone::*;
use lab::axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lab::billing::Customer;
use lab::billing::json::CustomerJson;
use lab::bson::doc;
use lab::bson::oid::ObjectId;
use lab::jobs::kinds::Analysis;
use lab::jobs::worker::{self, Step, WorkerOptions};
use lab::jobs::{Claim, FailOutcome, JobId, JobQueue, JobState, NewJob, Progress, results};
use lab::redis::aio::ConnectionManager;
use lab::services::{Origin, connect_redis};
use lab::testing::http::Reply;
use lab::testing::{
    MongoLog, RedisCommand, RedisLog, TestEnv, inspect, restricted_redis, stoppable_redis,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a request may go unanswered before the test gives up on it:
/// far longer than any answer the table asks for takes, waits included.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// The router under test, served on a port of its own until dropped.
struct Served {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router(billing)` on 127.0.0.1 at a port the system picks.
async fn serve(billing: Billing) -> Served {
    // Built here, not in the task, so that an unwritten `router` fails the
    // test with its own message.
    let app = router(billing);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|error| panic!("cannot bind a port for the router: {error}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("the bound port has no address: {error}"));
    let task = tokio::spawn(async move {
        let _ = lab::axum::serve(listener, app).await;
    });
    Served { address, task }
}

/// A client for the waiting requests' connections, on the Redis at `url`.
fn waits_on(url: &str) -> lab::redis::Client {
    lab::redis::Client::open(url)
        .unwrap_or_else(|error| panic!("the test's Redis URL is not valid: {error}"))
}

/// The setup's service with another cache or database: the same queue,
/// and waits on the test's Redis.
async fn serve_with(
    setup: &Setup,
    cache: ConnectionManager,
    database: lab::mongodb::Database,
) -> Served {
    serve(Billing {
        cache,
        database,
        queue: setup.queue.clone(),
        waits: waits_on(setup.env.redis_url()),
    })
    .await
}

/// What a test works with. Every test binds `env`, even unused: it owns
/// the test's servers.
struct Setup {
    env: TestEnv,
    server: Served,
    /// A connection of the test's own, for looking at Redis.
    control: ConnectionManager,
    /// The queue the router was given (a clone: the same connection).
    queue: JobQueue,
    /// The `CLIENT ID`s of the connections every request shares: the
    /// cache's and the queue's.
    shared: [i64; 2],
}

async fn setup() -> Setup {
    let env = TestEnv::start_seeded().await;
    let mut cache = env.redis().await;
    let mut for_queue = env.redis().await;
    let shared = [client_id(&mut cache).await, client_id(&mut for_queue).await];
    let queue = JobQueue::new(for_queue, lab::jobs::PREFIX);
    let billing = Billing {
        cache,
        database: env.database().clone(),
        queue: queue.clone(),
        waits: waits_on(env.redis_url()),
    };
    let server = serve(billing).await;
    let control = env.redis().await;
    Setup {
        env,
        server,
        control,
        queue,
        shared,
    }
}

/// Sends `method path` to the server at `address`, with `body` as JSON
/// text when given, and reads the whole answer.
async fn call_at(address: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let request = format!("{method} {path}");
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let mut head = format!("{request} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or_default());
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = match tokio::time::timeout(ANSWER_WITHIN, exchange).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(error)) => panic!(
            "{request}: the connection failed ({error}); a handler that panics drops the \
             connection without an answer: answer every failure with a JSON error instead"
        ),
        Err(_) => panic!(
            "{request} had no answer after {} s: a handler must answer (a `?wait=` at the latest \
             when its time is up); is something waiting that never ends, such as `XREAD BLOCK 0`?",
            ANSWER_WITHIN.as_secs()
        ),
    };
    parse_reply(&raw, request)
}

/// [`call_at`] on the test's server.
async fn call(setup: &Setup, method: &str, path: &str, body: Option<&str>) -> Reply {
    call_at(setup.server.address, method, path, body).await
}

/// An HTTP/1.1 answer, read whole, as a [`Reply`].
fn parse_reply(raw: &[u8], request: String) -> Reply {
    if raw.is_empty() {
        panic!(
            "{request} got no answer: the server closed the connection without one, which is \
             what a handler that panics does (a `todo!()` left, an `unwrap` or `expect` on a \
             lookup that found nothing, or on bad input). Answer every failure with a status and \
             a JSON error instead"
        );
    }
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{request}: the answer has no end of headers: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("{request}: the answer has no status line: {head:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    let rest = &raw[split + 4..];
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Reply {
        status,
        headers,
        body,
        request,
    }
}

/// The body of a `Transfer-Encoding: chunked` answer, put back together.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = rest.windows(2).position(|window| window == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..end]);
        let size = size.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            break;
        };
        let start = end + 2;
        if size == 0 || start + size > rest.len() {
            break;
        }
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    body
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

/// The first customer of the test data, by id.
async fn first_customer(env: &TestEnv) -> Customer {
    lab::billing::collections::customers(env.database())
        .find_one(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap_or_else(|error| panic!("cannot read the test's customers: {error}"))
        .unwrap_or_else(|| panic!("the test data has customers"))
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

/// Whether `command` writes `key` or gives it an expiry.
fn writes(command: &RedisCommand, key: &str) -> bool {
    matches!(
        command.name.as_str(),
        "SET" | "SETEX" | "PSETEX" | "SETNX" | "GETSET" | "GETEX" | "MSET" | "EXPIRE" | "PEXPIRE"
    ) && command.args.iter().any(|arg| arg == key)
}

/// `POST /analyses` with `body`, checked as far as the test needs it: the
/// id of the job it queued.
async fn submit(setup: &Setup, body: Value) -> JobId {
    let reply = call(setup, "POST", "/analyses", Some(&body.to_string())).await;
    reply.expect_status(
        202,
        "an analysis is not run in the request: POST /analyses queues a job and answers 202 \
         Accepted at once",
    );
    let answer = reply.json("the accepted analysis");
    answer["id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_else(|| {
        panic!(
            "the 202 answer of POST /analyses must be {{\"id\", \"state\": \"queued\"}} with the \
             id `billing.queue.submit` gave, got {answer}"
        )
    })
}

/// One step of the lab's worker: claims a job and runs it to the end.
async fn run_one(setup: &Setup) -> Step {
    let options = WorkerOptions {
        lease: Duration::from_secs(30),
        ..Default::default()
    };
    worker::step(&setup.queue, setup.env.database(), &options)
        .await
        .unwrap_or_else(|error| panic!("the lab's worker could not run a step: {error}"))
}

/// What `kind` with `params` gives, computed here, apart from the router.
async fn analysis_of(env: &TestEnv, kind: &str, params: &Value) -> Value {
    Analysis::parse(kind, params)
        .unwrap_or_else(|error| panic!("the test's analysis is valid: {error}"))
        .run(env.database())
        .await
        .unwrap_or_else(|error| panic!("the test's analysis runs: {error}"))
}

/// Does a worker's work on the next ready job short of completing it:
/// claims it, runs `kind` with `params` and saves the result under the
/// claim (`results::save`). Answers the claim and the result; completing
/// the job, or not, is the test's to do.
async fn claim_and_save(setup: &Setup, kind: &str, params: &Value) -> (Claim, Value) {
    let claim = setup
        .queue
        .claim(Duration::from_secs(30))
        .await
        .unwrap_or_else(|error| panic!("cannot claim the test's job: {error}"))
        .unwrap_or_else(|| panic!("the test's job is ready"));
    let computed = analysis_of(&setup.env, kind, params).await;
    results::save(setup.env.database(), &claim, &computed)
        .await
        .unwrap_or_else(|error| panic!("cannot save the test's result: {error}"));
    (claim, computed)
}

/// The id Redis knows a connection by.
async fn client_id(redis: &mut ConnectionManager) -> i64 {
    lab::redis::cmd("CLIENT")
        .arg("ID")
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("CLIENT ID failed: {error}"))
}

/// A client Redis holds blocked in a command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Blocked {
    /// Its `CLIENT ID`.
    id: i64,
    /// The command it is blocked in, lower case (`xread`).
    command: String,
}

/// The value of `name` in one line of `CLIENT LIST` or `CLIENT INFO`
/// (`name=value` pairs separated by spaces).
fn client_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Runs `CLIENT` with `subcommand` on the control connection.
async fn client_text(control: &mut ConnectionManager, subcommand: &str) -> String {
    lab::redis::cmd("CLIENT")
        .arg(subcommand)
        .query_async(control)
        .await
        .unwrap_or_else(|error| panic!("CLIENT {subcommand} failed: {error}"))
}

/// The first client `CLIENT LIST` shows blocked (`b` among its flags) in
/// `database`, the test's. The test's Redis may be shared with other tests
/// (`REDIS_URL`), each in a database of its own: a client blocked in
/// another database is another test's.
async fn blocked_client(control: &mut ConnectionManager, database: &str) -> Option<Blocked> {
    let list = client_text(control, "LIST").await;
    list.lines().find_map(|line| {
        let blocked = client_field(line, "flags")?.contains('b');
        (blocked && client_field(line, "db") == Some(database)).then(|| Blocked {
            id: client_field(line, "id")
                .and_then(|id| id.parse().ok())
                .unwrap_or(-1),
            command: client_field(line, "cmd").unwrap_or_default().to_owned(),
        })
    })
}

/// Waits until Redis shows a client blocked, or `task` has ended, for at
/// most two seconds. There is no notification for "a client is now
/// blocked", so this asks every 10 ms; a request that never blocks (it
/// polls) only makes the test go on after two seconds.
async fn until_blocked<T>(
    control: &mut ConnectionManager,
    task: &JoinHandle<T>,
) -> Option<Blocked> {
    let own = client_text(control, "INFO").await;
    let database = client_field(&own, "db")
        .unwrap_or_else(|| panic!("CLIENT INFO has no db field: {own}"))
        .to_owned();
    for _ in 0..200 {
        if let Some(blocked) = blocked_client(control, &database).await {
            return Some(blocked);
        }
        if task.is_finished() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The start ids of the `XREAD`s in `sent` that read the stream `key`.
fn xread_starts(sent: &RedisLog, key: &str) -> Vec<String> {
    let mut starts = Vec::new();
    for command in sent.commands.iter().filter(|c| c.name == "XREAD") {
        let Some(at) = command
            .args
            .iter()
            .position(|arg| arg.eq_ignore_ascii_case("STREAMS"))
        else {
            continue;
        };
        let streams = &command.args[at + 1..];
        let (keys, ids) = streams.split_at(streams.len() / 2);
        if let Some(index) = keys.iter().position(|k| k == key)
            && let Some(id) = ids.get(index)
        {
            starts.push(id.clone());
        }
    }
    starts
}

/// A stream entry id as numbers, for comparing (`5` is `5-0`).
fn stream_id(text: &str) -> Option<(u64, u64)> {
    let (millis, sequence) = text.split_once('-').unwrap_or((text, "0"));
    Some((millis.parse().ok()?, sequence.parse().ok()?))
}

/// The commands of `sent` as one short line for a failure message.
fn short_listing(sent: &RedisLog) -> String {
    if sent.commands.is_empty() {
        return "no command at all".to_owned();
    }
    let shown: Vec<String> = sent.commands.iter().take(8).map(|c| c.display()).collect();
    let more = sent.commands.len().saturating_sub(8);
    if more > 0 {
        format!("{}, then {more} more", shown.join(", then "))
    } else {
        shown.join(", then ")
    }
}

#[tokio::test]
async fn a_customer_is_read_from_mongodb_once_then_served_from_redis() {
    let setup = setup().await;
    let customer = first_customer(&setup.env).await;
    let path = format!("/customers/{}", customer.id);
    let key = format!("customer:{}", customer.id);
    let expected = serde_json::to_value(CustomerJson::of(&customer))
        .unwrap_or_else(|error| panic!("a customer serialises: {error}"));

    let (reply, sent, mongo) = recorded(&setup.env, call(&setup, "GET", &path, None)).await;
    reply.expect_status(200, "reading a customer that exists");
    let body = reply.json("the customer");
    let mut answers = vec![reply.snapshot()];
    assert_eq!(
        body["source"], "database",
        "the notes' answer is {{\"source\": \"cache\" | \"database\", \"customer\": {{...}}}}: the \
         first read finds nothing in Redis, so it is read from MongoDB and says \
         \"source\": \"database\"; got {body}"
    );
    assert_eq!(
        body["customer"], expected,
        "the notes' answer carries the customer under \"customer\", as the API shows it \
         (`CustomerJson::of(&customer)`: `_id` as hex, `created_at` as RFC 3339)"
    );
    assert_eq!(
        mongo.count("find"),
        1,
        "a miss reads the customer from MongoDB once (`customers(&billing.database).find_one`); \
         the request sent {}",
        mongo.listing()
    );
    assert!(
        sent.commands
            .first()
            .is_some_and(|get| get.name == "GET" && get.args.first() == Some(&key)),
        "cache-aside looks in Redis first, with one GET of `customer:{{id}}` (`customer_key`): \
         the request must start with GET {key}, it sent {}",
        short_listing(&sent)
    );
    assert!(
        sent.commands.iter().any(|c| writes(c, &key)),
        "after reading MongoDB, keep the customer in Redis under {key} for the next reader; the \
         request sent {}",
        short_listing(&sent)
    );
    let mut control = setup.control.clone();
    let stored: Option<String> = lab::redis::cmd("GET")
        .arg(&key)
        .query_async(&mut control)
        .await
        .unwrap_or_else(|error| panic!("GET {key} failed: {error}"));
    assert_eq!(
        stored
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok()),
        Some(expected.clone()),
        "{key} must hold the customer's JSON as the answer shows it (`CustomerJson::of(&customer)`, \
         written with `.to_json()`), so that a hit can answer it as it is"
    );

    for round in 1..=2 {
        let (reply, sent, mongo) = recorded(&setup.env, call(&setup, "GET", &path, None)).await;
        reply.expect_status(200, "reading a cached customer");
        let body = reply.json("the cached customer");
        assert_eq!(
            body["source"], "cache",
            "read {round} after the miss must be answered from Redis, saying \
             \"source\": \"cache\": once GET has found the customer, answer the cached JSON \
             and do not read MongoDB; got {body}"
        );
        assert_eq!(
            body["customer"], expected,
            "a hit answers the cached customer, the same JSON as the miss answered"
        );
        assert!(
            mongo.commands.is_empty(),
            "a hit must not reach MongoDB at all: answer from the cached JSON; read {round} after \
             the miss sent {} to MongoDB",
            mongo.listing()
        );
        assert_eq!(
            sent.names(),
            ["GET"],
            "a hit is one GET of {key} and nothing else (no write back, no EXISTS first); read \
             {round} sent {}",
            short_listing(&sent)
        );
        answers.push(reply.snapshot());
    }
    // The same customer asked for with its id in capitals: the id is the
    // same (hex is read in either case), and so is its cache entry.
    let shouted = format!("/customers/{}", customer.id.to_hex().to_uppercase());
    let (reply, sent, _) = recorded(&setup.env, call(&setup, "GET", &shouted, None)).await;
    reply.expect_status(
        200,
        "reading a cached customer by its id in capital letters",
    );
    let body = reply.json("the cached customer");
    assert!(
        body["source"] == "cache" && sent.names() == ["GET"],
        "GET {shouted} names the same customer as {path} (an ObjectId's hex reads the same in \
         either case), which is cached under {key}: it must be one GET of {key} and answered \
         from the cache; it answered {body} and sent {}. Build the key from the parsed id \
         (`customer_key(id)`), never from the text of the path, or one customer gets as many \
         cache entries as spellings, and invalidating {key} leaves the others stale",
        short_listing(&sent)
    );
    lab::graded_snapshot!(
        "capstone_customer_answers",
        answers,
        "reading a customer three times must answer 200 as `application/json`, first \
         {\"source\": \"database\", \"customer\": {...}}, then twice {\"source\": \"cache\"} \
         with the same customer",
        {
            "[].body.customer._id" => "[id]",
            "[].body.customer.created_at" => "[time]",
        }
    );

    // The same router on a Redis of the test's own, which then goes away.
    let stoppable = stoppable_redis().await;
    let cache = connect_redis(stoppable.url(), Origin::Lab)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test's own Redis: {error}"));
    let served = serve_with(&setup, cache, setup.env.database().clone()).await;
    stoppable.stop();
    let mongo = setup.env.record_mongo();
    let reply = call_at(served.address, "GET", &path, None).await;
    let mongo = mongo.finish();
    reply.expect_error(
        503,
        &format!(
            "with Redis down, the table's answer is 503 Service Unavailable with a JSON error; \
             the request sent {} to MongoDB. A cache that cannot be read is not a miss: pass \
             Redis's errors on with `?` (`ApiError::Redis`), the GET's and the SETEX's alike. \
             Swallowed, every request quietly falls through to MongoDB, which then takes the \
             whole load, and nobody is told the cache is gone",
            mongo.listing()
        ),
    );
    // A Redis that answers reads and refuses writes: the GET misses,
    // MongoDB answers, and the SETEX that would cache the customer fails.
    let read_only = stoppable_redis().await;
    let served = serve_with(
        &setup,
        restricted_redis(&read_only, &["-@write"]).await,
        setup.env.database().clone(),
    )
    .await;
    let reply = call_at(served.address, "GET", &path, None).await;
    reply.expect_error(
        503,
        "with a Redis that refuses writes, the SETEX that caches the customer after the miss \
         failed: the table's answer is 503 with a JSON error, so pass the SETEX's error on with \
         `?` (`ApiError::Redis`), as the GET's. Swallowed, the cache never fills, every request \
         reads MongoDB, and nobody is told why",
    );

    // MongoDB down, Redis up, the customer not cached: a failed read is
    // not a customer who does not exist.
    let uncached = lab::billing::collections::customers(setup.env.database())
        .find_one(doc! { "_id": { "$ne": customer.id } })
        .await
        .unwrap_or_else(|error| panic!("cannot read the test's customers: {error}"))
        .unwrap_or_else(|| panic!("the test data has two customers"))
        .id;
    let served = serve_with(
        &setup,
        setup.env.redis().await,
        lab::testing::unreachable_database(setup.env.database().name()).await,
    )
    .await;
    let path = format!("/customers/{uncached}");
    let reply = call_at(served.address, "GET", &path, None).await;
    reply.expect_error(
        503,
        "with MongoDB unreachable, a customer who is not cached cannot be read: the table's \
         answer is 503 Service Unavailable with a JSON error, not 404 (the customer exists, and \
         a 404 would be cached as `null` and answered after MongoDB is back); pass the driver's \
         error on with `?`",
    );
    let cached = inspect::bytes(&mut setup.control.clone(), &format!("customer:{uncached}")).await;
    assert_eq!(
        cached.as_deref().map(String::from_utf8_lossy),
        None,
        "a read that failed must leave nothing in the cache, but `customer:{uncached}` holds \
         a value: write the cache only after MongoDB answered, with what it answered"
    );
}

#[tokio::test]
async fn a_cached_customer_expires_after_an_hour() {
    let setup = setup().await;
    let customer = first_customer(&setup.env).await;
    let key = format!("customer:{}", customer.id);
    let path = format!("/customers/{}", customer.id);
    let (reply, sent, _) = recorded(&setup.env, call(&setup, "GET", &path, None)).await;
    reply.expect_status(200, "reading a customer that exists");
    let mut control = setup.control.clone();
    let ttl = inspect::ttl(&mut control, &key).await;
    assert!(
        matches!(ttl, Some(seconds) if (3590..=3960).contains(&seconds)),
        "a cached customer expires after CUSTOMER_TTL_SECONDS, an hour (plus up to a tenth of \
         jitter), as in the notes; TTL of \
         {key} says {ttl:?} (None: no expiry). An entry that never expires serves a changed \
         customer's old data for ever"
    );
    let written: Vec<&RedisCommand> = sent.commands.iter().filter(|c| writes(c, &key)).collect();
    assert!(
        matches!(written.as_slice(), [write] if stores_with_expiry(write)),
        "keep the customer with its expiry in one command, SETEX (`set_ex`) as the notes do: \
         with SET and then EXPIRE, a crash between the two leaves an entry that never expires; \
         the request sent {}",
        short_listing(&sent)
    );
}

#[tokio::test]
async fn an_unknown_customer_is_a_json_404_remembered_briefly_if_at_all() {
    let setup = setup().await;
    let unknown = ObjectId::new();
    let path = format!("/customers/{unknown}");
    let key = format!("customer:{unknown}");
    let mut first_sent = None;
    for attempt in ["first", "second"] {
        let (reply, sent, _) = recorded(&setup.env, call(&setup, "GET", &path, None)).await;
        first_sent.get_or_insert(sent);
        let message = reply.expect_error(
            404,
            &format!(
                "the {attempt} lookup of a customer that does not exist is 404 Not Found with \
                 the notes' JSON error, also when the answer comes from the cache"
            ),
        );
        assert_eq!(
            message, CUSTOMER_NOT_FOUND,
            "the notes fix the 404's message: {{\"error\": \"Customer not found\"}}"
        );
    }
    let mut control = setup.control.clone();
    for key in inspect::keys(&mut control).await {
        let ttl = inspect::ttl(&mut control, &key).await;
        assert!(
            matches!(ttl, Some(seconds) if (1..=300).contains(&seconds)),
            "after a 404, Redis holds {key} with TTL {ttl:?} (None: no expiry): \"no such \
             customer\" may be remembered, but only briefly (MISSING_TTL_SECONDS, with SETEX), \
             never for ever or for the hour a found customer gets, or a customer created \
             meanwhile stays \"not found\""
        );
    }
    let sent = first_sent.expect("the first lookup was recorded");
    let written: Vec<&RedisCommand> = sent.commands.iter().filter(|c| writes(c, &key)).collect();
    assert!(
        matches!(written.as_slice(), [] | [_]) && written.iter().all(|c| stores_with_expiry(c)),
        "\"no such customer\" is remembered, if at all, with its expiry in one command (SETEX, \
         or SET with EX): with SET and then EXPIRE, a crash between the two leaves an entry that \
         never expires, and a customer created later stays \"not found\" for ever; the first \
         lookup sent {}",
        short_listing(&sent)
    );
}

#[tokio::test]
async fn an_analysis_is_accepted_at_once_with_its_location() {
    let setup = setup().await;
    let customer = first_customer(&setup.env).await.id.to_hex();
    let request = json!({"kind": "revenue_by_customer", "params": {"customer_id": customer}});
    let (reply, _, mongo) = recorded(
        &setup.env,
        call(&setup, "POST", "/analyses", Some(&request.to_string())),
    )
    .await;
    reply.expect_status(
        202,
        "an analysis may take longer than a client waits: POST /analyses queues a job and \
         answers 202 Accepted at once, not 200 (the work is accepted, not done); answer \
         `(StatusCode::ACCEPTED, ...)`",
    );
    let body = reply.json("the accepted analysis");
    let Some(id) = body["id"].as_str().and_then(|id| id.parse::<JobId>().ok()) else {
        panic!(
            "the 202 answer of POST /analyses must be {{\"id\", \"state\": \"queued\"}} with the \
             id `billing.queue.submit` gave, got {body}"
        );
    };
    assert_eq!(
        reply.location(),
        Some(format!("/analyses/{id}").as_str()),
        "a 202 answer says where the client can follow the job: its `Location` header must be \
         `/analyses/{{id}}`; add `[(header::LOCATION, format!(\"/analyses/{{id}}\"))]` to the answer"
    );
    assert_eq!(
        body["state"], "queued",
        "an analysis just accepted is queued: the 202 body is {{\"id\", \"state\": \"queued\"}}"
    );
    assert!(
        !mongo.used("aggregate"),
        "POST /analyses ran the analysis inside the request (it sent {} to MongoDB): check the \
         parameters with `Analysis::parse` and queue the job with `billing.queue.submit`; a \
         worker runs it later",
        mongo.listing()
    );
    let job = setup
        .queue
        .get(&id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "the id answered, {id}, is no job of the queue: submit the job with \
             `billing.queue.submit` and answer the id it gives"
            )
        });
    assert_eq!(
        (
            job.kind.as_str(),
            serde_json::from_str::<Value>(&job.params).ok()
        ),
        ("revenue_by_customer", Some(request["params"].clone())),
        "the job is the analysis asked for: kind `request.kind`, params the request's `params` \
         as JSON text (`NewJob::new(&request.kind, params.to_string())`)"
    );
    assert_eq!(
        job.state,
        JobState::Queued,
        "POST /analyses only queues the job; a worker runs it later"
    );
    let id = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    let job = setup.queue.get(&id).await.ok().flatten();
    assert_eq!(
        job.and_then(|job| serde_json::from_str::<Value>(&job.params).ok()),
        Some(json!({})),
        "an analysis asked for without `params` is queued with the params `{{}}`"
    );
}

#[tokio::test]
async fn an_analysis_is_followed_until_its_result_is_shown() {
    let setup = setup().await;
    let params = json!({"n": 3});
    let id = submit(&setup, json!({"kind": "top_customers", "params": params})).await;
    let path = format!("/analyses/{id}");

    let reply = call(&setup, "GET", &path, None).await;
    reply.expect_status(200, "following an analysis that exists");
    let body = reply.json("the analysis's state");
    assert_eq!(
        (&body["id"], &body["kind"], &body["state"]),
        (&json!(id), &json!("top_customers"), &json!("queued")),
        "GET /analyses/{{id}} answers {{\"id\", \"kind\", \"state\", \"result\"}} from \
         `billing.queue.get`; an analysis no worker has run yet is queued; got {body}"
    );
    assert!(
        body.get("result").is_some_and(Value::is_null),
        "an analysis that has not succeeded has no result yet: \"result\" is null until then \
         (`results::visible` answers `None`); got {body}"
    );

    assert_eq!(
        run_one(&setup).await,
        Step::Succeeded(id.clone()),
        "the job POST /analyses queued must be one the lab's worker can run: kind and params as \
         asked"
    );
    let reply = call(&setup, "GET", &path, None).await;
    reply.expect_status(200, "following an analysis that has succeeded");
    let body = reply.json("the analysis's result");
    assert_eq!(
        body["state"], "succeeded",
        "GET /analyses/{{id}} answers the job's current state, read from the queue on every \
         request; got {body}"
    );
    let expected = analysis_of(&setup.env, "top_customers", &params).await;
    assert_eq!(
        body["result"], expected,
        "once the analysis has succeeded, \"result\" is its result as the worker saved it: \
         `results::visible(&billing.database, &job)`, which is what `lab::analysis` computes"
    );

    let cancelled = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    // A worker claims the job, runs it and saves its result, and the job is
    // cancelled before that worker completes it.
    claim_and_save(&setup, "invoice_status_summary", &json!({})).await;
    setup
        .queue
        .cancel(&cancelled)
        .await
        .unwrap_or_else(|error| panic!("cannot cancel the test's job: {error}"));
    let reply = call(&setup, "GET", &format!("/analyses/{cancelled}"), None).await;
    reply.expect_status(200, "following an analysis that was cancelled");
    let body = reply.json("a cancelled analysis");
    assert!(
        body["state"] == "cancelled" && body.get("result").is_some_and(Value::is_null),
        "a cancelled analysis is shown as the queue has it, \"state\": \"cancelled\", with \
         \"result\": null; got {body}. A worker saved a result for this job and the job was \
         cancelled before the worker completed it: a run's result becomes the job's only when \
         the run completes the job. Show what `results::visible(&billing.database, &job)` \
         answers: null for every state but succeeded, then the result saved under the token \
         that completed the job, never just the latest result stored for the job's id"
    );

    // A run that has completed its job in Redis but not yet marked its
    // result completed in MongoDB: a worker between its two last steps (or
    // whose marking failed and will be redone). The job has succeeded, so
    // its result is shown already.
    let top_two = json!({"n": 2});
    let unmarked = submit(&setup, json!({"kind": "top_customers", "params": top_two})).await;
    let (claim, computed) = claim_and_save(&setup, "top_customers", &top_two).await;
    assert_eq!(
        claim.id, unmarked,
        "POST /analyses queues each analysis as a job of its own"
    );
    let completed = setup
        .queue
        .complete(&claim)
        .await
        .unwrap_or_else(|error| panic!("cannot complete the test's job: {error}"));
    assert!(
        completed,
        "the run that claimed the test's job completes it"
    );
    let reply = call(&setup, "GET", &format!("/analyses/{unmarked}"), None).await;
    reply.expect_status(200, "following an analysis that has succeeded");
    let body = reply.json("the analysis's result");
    assert!(
        body["state"] == "succeeded" && body["result"] == computed,
        "this analysis has succeeded, and its result was saved by the run that completed it, \
         but that result is not marked completed yet (the worker marks it a moment after \
         completing the job, and redoes it later if the marking failed), yet GET \
         /analyses/{{id}} answered {body}: \"result\": null for a succeeded analysis is, to the \
         client, its final, empty answer. `results::kept` finds only marked results, for jobs \
         gone from Redis; read the result of a job the queue still has with \
         `results::visible(&billing.database, &job)`, which goes by the job's token"
    );

    // MongoDB unreachable: the succeeded analysis's result cannot be read.
    let served = serve_with(
        &setup,
        setup.env.redis().await,
        lab::testing::unreachable_database(setup.env.database().name()).await,
    )
    .await;
    let reply = call_at(served.address, "GET", &path, None).await;
    reply.expect_error(
        503,
        "with MongoDB unreachable, the result of a succeeded analysis cannot be read: the \
         table's answer is 503 with a JSON error, not 200 with \"result\": null, which says the \
         analysis has no result; pass the error of `results::visible` on with `?`",
    );
}

#[tokio::test]
async fn malformed_requests_and_unknown_ids_get_json_errors() {
    let mut setup = setup().await;
    let reply = call(&setup, "GET", "/customers/not-a-customer", None).await;
    reply.expect_error(
        400,
        "a customer id that is not 24 hexadecimal digits is malformed: answer 400 Bad Request \
         with a JSON error (`parse_id`), never a panic or a 500 as the notes' Flask app did",
    );
    let unknown = "64b0000000000000000000ff";
    let reply = call(&setup, "GET", &format!("/analyses/{unknown}"), None).await;
    let message = reply.expect_error(
        404,
        "an analysis the queue does not know is 404 Not Found with a JSON error: \
         `billing.queue.get` answers `None`, which is `ApiError::NotFound(ANALYSIS_NOT_FOUND)`, \
         not a panic or a 500",
    );
    assert_eq!(
        message, ANALYSIS_NOT_FOUND,
        "the table fixes the 404's message: {{\"error\": \"Analysis not found\"}}"
    );
    // The same id with a wait: there is nothing to wait for.
    let address = setup.server.address;
    let path = format!("/analyses/{unknown}?wait=10");
    let waiter = tokio::spawn(async move { call_at(address, "GET", &path, None).await });
    if let Some(blocked) = until_blocked(&mut setup.control, &waiter).await {
        waiter.abort();
        panic!(
            "GET /analyses/{{id}}?wait=10 of an id the queue does not know blocked in Redis (in \
             `{}`) instead of answering 404 at once: look the job up first. An unknown id has \
             nothing to wait for, and each such request would hold a blocking connection for \
             the whole wait before its 404",
            blocked.command
        );
    }
    let reply = waiter
        .await
        .unwrap_or_else(|error| panic!("the waiting request's task failed: {error}"));
    reply.expect_error(
        404,
        "an analysis the queue does not know is 404 Not Found, with `?wait=` as without it",
    );
    let reply = call(&setup, "GET", "/analyses/not-an-analysis", None).await;
    reply.expect_error(
        400,
        "an analysis id that is not 24 hexadecimal digits is malformed: answer 400 with a JSON \
         error (`parse_id`)",
    );
    for (request, what) in [
        (json!({"kind": "astrology"}).to_string(), "an unknown kind"),
        // The worker's drills (`sleep`, `crash`) are for the lab's own
        // tests: a user who asks for one asks for an unknown kind.
        (
            json!({"kind": "sleep", "params": {"ms": 1}}).to_string(),
            "an unknown kind (`sleep` is one of the worker's drills, which the API does not take)",
        ),
        (
            json!({"kind": "top_customers", "params": {"n": "ten"}}).to_string(),
            "parameters the analysis refuses",
        ),
    ] {
        let reply = call(&setup, "POST", "/analyses", Some(&request)).await;
        reply.expect_error(
            422,
            &format!(
                "POST /analyses with {what} is refused before anything is queued: check with \
                 `Analysis::parse(&kind, &params)` and answer its error as 422 Unprocessable \
                 Entity with a JSON error"
            ),
        );
    }
    for request in [r#"{"kind": "#, r#"{"params": {}}"#] {
        let reply = call(&setup, "POST", "/analyses", Some(request)).await;
        let status = reply.status.as_u16();
        assert!(
            status == 400 || status == 422,
            "POST /analyses with the body {request:?} must be refused with 400 or 422 and a JSON \
             error, got {status} {:?}: take the body as `Result<Json<_>, JsonRejection>` and \
             answer the rejection with `?` (ApiError has a `From` for it)",
            reply.text()
        );
        reply.expect_error(status, "a body that is not an analysis request");
    }
    assert_eq!(
        setup
            .queue
            .list(None, None, 10)
            .await
            .map(|jobs| jobs.len())
            .ok(),
        Some(0),
        "a refused request queues nothing: check the request before `billing.queue.submit`"
    );
    let id = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    for wait in ["9999", "soon", "-1"] {
        let reply = call(&setup, "GET", &format!("/analyses/{id}?wait={wait}"), None).await;
        reply.expect_error(
            400,
            &format!(
                "?wait={wait} is not a wait of 0 to MAX_WAIT seconds: answer 400 with a JSON error \
                 (take the query as `Result<Query<WaitQuery>, QueryRejection>` and check the range)"
            ),
        );
    }
    // The longest wait the table allows, on an analysis that is over, so
    // that the answer comes at once.
    assert_eq!(
        run_one(&setup).await,
        Step::Succeeded(id.clone()),
        "the job POST /analyses queued must be one the lab's worker can run"
    );
    let path = format!("/analyses/{id}?wait={MAX_WAIT}");
    // An answer that waits although the analysis is over is judged by
    // a_finished_analysis_is_answered_at_once_and_a_wait_ends_on_time.
    if let Ok(reply) =
        tokio::time::timeout(Duration::from_secs(10), call(&setup, "GET", &path, None)).await
    {
        reply.expect_status(
            200,
            &format!(
                "?wait={MAX_WAIT} is MAX_WAIT itself, the longest wait the table allows (0 to \
                 MAX_WAIT seconds, both ends included): refuse only a wait above it \
                 (`wait > MAX_WAIT`), or a client asking for the documented longest wait is told \
                 its request is malformed"
            ),
        );
    }

    // The same router, its queue on a Redis of the test's own, which then
    // goes away: the analysis exists, but nobody can look it up.
    let stoppable = stoppable_redis().await;
    let connection = connect_redis(stoppable.url(), Origin::Lab)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test's own Redis: {error}"));
    let queue = JobQueue::new(connection, lab::jobs::PREFIX);
    let (queued, _) = queue
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap_or_else(|error| panic!("cannot queue the test's job: {error}"));
    let served = serve(Billing {
        cache: setup.env.redis().await,
        database: setup.env.database().clone(),
        queue,
        waits: waits_on(stoppable.url()),
    })
    .await;
    stoppable.stop();
    let reply = call_at(served.address, "GET", &format!("/analyses/{queued}"), None).await;
    reply.expect_error(
        503,
        "with the queue's Redis down, GET /analyses/{id} of an analysis queued there must \
         answer 503 Service Unavailable with a JSON error: the queue could not be asked, which \
         is not the same as a queue that does not know the id. A 404 tells the client the \
         analysis is gone for good, and it gives up on it; a 503 tells it to try again shortly. \
         Pass the error of `billing.queue.get` on with `?` (`ApiError::Redis`), and keep the 404 \
         for the `None` it answers",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_is_told_when_the_analysis_is_done_without_polling() {
    let mut setup = setup().await;
    let params = json!({});
    let id = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    let key = setup.queue.keys().shard_of(id.as_str()).events(id.as_str());
    let recording = setup.env.record_redis().await;
    let address = setup.server.address;
    let path = format!("/analyses/{id}?wait=10");
    let waiter = tokio::spawn(async move { call_at(address, "GET", &path, None).await });
    let blocked = until_blocked(&mut setup.control, &waiter).await;
    let Some(blocked) = blocked else {
        let answered = waiter.is_finished();
        waiter.abort();
        let sent = recording.finish().await;
        if answered {
            panic!(
                "GET /analyses/{{id}}?wait=10 answered while the analysis was still queued, \
                 without waiting: with ?wait=SECONDS the answer comes when the job is over, or \
                 when the time is up; it sent {}",
                short_listing(&sent)
            );
        }
        panic!(
            "GET /analyses/{{id}}?wait=10 was waiting, but never blocked in Redis: a loop that \
             reads the job, sleeps and reads again (polling) hears the news late and sends a \
             request every turn. Let Redis do the waiting: `XREAD BLOCK <ms> STREAMS \
             <events_key> <last event id>` on the job's event stream answers the moment the next \
             event is added. It sent {}",
            short_listing(&sent)
        );
    };
    assert!(
        !setup.shared.contains(&blocked.id),
        "the waiting request blocked on a connection every request shares (`billing.cache`, or \
         the queue's): while it waits, every other request's commands queue behind it. Block on \
         a connection of its own: `billing.waiting_connection().await?`"
    );
    assert_eq!(
        blocked.command, "xread",
        "the waiting request blocked in `{}`: wait for the job's end on its event stream, \
         `XREAD BLOCK <ms> STREAMS <events_key> <last event id>`, where the queue records every \
         change of the job",
        blocked.command
    );
    assert_eq!(
        run_one(&setup).await,
        Step::Succeeded(id.clone()),
        "the job POST /analyses queued must be one the lab's worker can run"
    );
    let reply = waiter
        .await
        .unwrap_or_else(|error| panic!("the waiting request's task failed: {error}"));
    let sent = recording.finish().await;
    reply.expect_status(200, "a wait that ends with the job");
    let body = reply.json("the waited-for analysis");
    assert_eq!(
        body["state"], "succeeded",
        "a waiting request answers once the job is over, with the state it ended in: read the \
         job again after the wait; got {body}"
    );
    let expected = analysis_of(&setup.env, "invoice_status_summary", &params).await;
    assert_eq!(
        body["result"], expected,
        "the answer of a wait that ended with success carries the result \
         (`results::visible`), so the client needs no second request"
    );
    let starts = xread_starts(&sent, &key);
    assert!(
        !starts.is_empty(),
        "the waiting request blocked, but not on the job's event stream {key}: block on \
         `events_key(&billing.queue, &id)`, where the queue records the job's end; it sent {}",
        short_listing(&sent)
    );
    let events = setup
        .queue
        .events(&id, None)
        .await
        .unwrap_or_else(|error| panic!("cannot read the job's events: {error}"));
    let last = events
        .iter()
        .rfind(|event| event.data.is_final())
        .and_then(|event| stream_id(&event.id))
        .unwrap_or_else(|| panic!("the job's stream records its end: {events:?}"));
    for start in &starts {
        assert!(
            start != "$",
            "the waiting request read the stream from `$`, which means \"only what is added \
             from now on\": an event added between the look at the job and the XREAD is missed, \
             and the wait lasts until its time is up. Read after the id of the last event seen \
             (`0-0` before any)"
        );
        assert!(
            stream_id(start).is_none_or(|start| start < last),
            "after the job's final event the waiting request asked for events after it (XREAD \
             from {start}), waiting for news that never comes: stop waiting as soon as the \
             stream records a final state (`event.data.is_final()`)"
        );
    }

    // A job cancelled while a request waits for it: that is an end too.
    let dropped = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    let path = format!("/analyses/{dropped}?wait=10");
    let waiter = tokio::spawn(async move { call_at(address, "GET", &path, None).await });
    let _ = until_blocked(&mut setup.control, &waiter).await;
    setup
        .queue
        .cancel(&dropped)
        .await
        .unwrap_or_else(|error| panic!("cannot cancel the test's job: {error}"));
    let reply = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the analysis was cancelled while a request waited for it with ?wait=10, and 5 s \
                 later the request was still waiting: a cancelled job is over too (and so is a \
                 failed one). Stop waiting at any final event (`event.data.is_final()`), not \
                 only when the job succeeds"
            )
        })
        .unwrap_or_else(|error| panic!("the waiting request's task failed: {error}"));
    reply.expect_status(200, "a wait that ends with the job cancelled");
    let body = reply.json("the waited-for analysis");
    assert_eq!(
        body["state"], "cancelled",
        "the analysis was cancelled while the request waited: the answer is the state it ended \
         in, cancelled; got {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_analysis_is_answered_at_once_and_a_wait_ends_on_time() {
    let mut setup = setup().await;
    let id = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    assert_eq!(
        run_one(&setup).await,
        Step::Succeeded(id.clone()),
        "the job POST /analyses queued must be one the lab's worker can run"
    );
    let address = setup.server.address;
    let path = format!("/analyses/{id}?wait=10");
    let waiter = tokio::spawn(async move { call_at(address, "GET", &path, None).await });
    if let Some(blocked) = until_blocked(&mut setup.control, &waiter).await {
        waiter.abort();
        panic!(
            "the analysis had already succeeded, yet GET /analyses/{{id}}?wait=10 blocked in \
             Redis (in `{}`) instead of answering: look at the job first, and read its events \
             from the start (`0-0`), so a job that is over is answered at once",
            blocked.command
        );
    }
    let reply = waiter
        .await
        .unwrap_or_else(|error| panic!("the waiting request's task failed: {error}"));
    reply.expect_status(200, "waiting for an analysis that is already over");
    let body = reply.json("the finished analysis");
    assert!(
        body["state"] == "succeeded" && !body["result"].is_null(),
        "waiting for an analysis that is over answers at once with its state and result; got \
         {body}"
    );

    let queued = submit(&setup, json!({"kind": "invoice_status_summary"})).await;
    let path = format!("/analyses/{queued}?wait=1");
    let reply = tokio::time::timeout(Duration::from_secs(11), call(&setup, "GET", &path, None))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "GET /analyses/{{id}}?wait=1 had not answered 11 s later: a wait gives up when its \
             time is up. Give each blocking read only the time left, in milliseconds, and never \
             `BLOCK 0`, which waits for ever"
            )
        });
    reply.expect_status(200, "a wait whose time ran out");
    let body = reply.json("an analysis still queued");
    assert!(
        body["state"] == "queued" && body.get("result").is_some_and(Value::is_null),
        "when the wait's time is up the answer is the job as it stands, \"state\": \"queued\" \
         with \"result\": null; got {body}"
    );
    let path = format!("/analyses/{queued}?wait=0");
    let reply = tokio::time::timeout(Duration::from_secs(3), call(&setup, "GET", &path, None))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "GET /analyses/{{id}}?wait=0 of a queued analysis had not answered 3 s later: a \
                 wait of 0 seconds is no wait, the job is answered as it stands at once. Do not \
                 block at all then, and never send `XREAD BLOCK 0`, which waits for ever"
            )
        });
    reply.expect_status(200, "a wait of 0 seconds");
    let body = reply.json("an analysis still queued");
    assert_eq!(
        body["state"], "queued",
        "`?wait=0` answers the job as it stands, here queued; got {body}"
    );

    // The job now runs, and its run reports progress every 150 ms for
    // longer than a 2 s wait: each report wakes the waiting request, which
    // must then block for the time left, not for the whole wait again.
    let claim = setup
        .queue
        .claim(Duration::from_secs(30))
        .await
        .unwrap_or_else(|error| panic!("cannot claim the queued analysis: {error}"))
        .unwrap_or_else(|| panic!("the queued analysis is ready to claim"));
    let key = setup
        .queue
        .keys()
        .shard_of(queued.as_str())
        .events(queued.as_str());
    let recording = setup.env.record_redis().await;
    let reporting = {
        let queue = setup.queue.clone();
        let claim = claim.clone();
        tokio::spawn(async move {
            for done in 1..=16 {
                // The pace is the point here: events spread over the wait.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let progress = Progress {
                    done,
                    total: 16,
                    note: "months".to_owned(),
                };
                queue.progress(&claim, &progress).await?;
            }
            Ok::<_, lab::redis::RedisError>(())
        })
    };
    let path = format!("/analyses/{queued}?wait=2");
    let reply = tokio::time::timeout(Duration::from_secs(12), call(&setup, "GET", &path, None))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "GET /analyses/{{id}}?wait=2 of a running analysis that keeps reporting progress \
                 had not answered 12 s later: a wait ends when its time is up, however much \
                 progress comes"
            )
        });
    let sent = recording.finish().await;
    reporting
        .await
        .unwrap_or_else(|error| panic!("the reporting task failed: {error}"))
        .unwrap_or_else(|error| panic!("cannot report the run's progress: {error}"));
    reply.expect_status(200, "a wait whose time ran out while the analysis ran");
    let body = reply.json("an analysis still running");
    assert_eq!(
        body["state"], "running",
        "when the wait's time is up the answer is the job as it stands, here still running; got \
         {body}"
    );
    let blocks: Vec<u64> = sent
        .commands
        .iter()
        .filter(|command| command.args.contains(&key))
        .filter_map(RedisCommand::block_millis)
        .collect();
    assert!(
        !blocks.is_empty(),
        "a 2 s wait of a running analysis sent no blocking read of its event stream {key}: a \
         running job is not over yet, so wait for it as for a queued one, with `XREAD BLOCK \
         <ms> STREAMS <events_key> <last event id>`, where the queue records each progress \
         report and the job's end; it sent {}",
        short_listing(&sent)
    );
    let shrinks = blocks.iter().all(|ms| (1..=2000).contains(ms))
        && (blocks.len() < 2 || blocks.last() < blocks.first());
    assert!(
        shrinks,
        "while progress keeps arriving, each XREAD of a 2 s wait must block only for the time \
         left until the deadline (set once, before the first read), or a job that keeps \
         reporting keeps its waiter waiting past its time; the XREADs blocked for {blocks:?} ms"
    );

    // The run fails and the job waits a minute to be retried: it is not
    // over, so a wait on it waits.
    let failed = setup
        .queue
        .fail(
            &claim,
            "the database was busy",
            true,
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot fail the running analysis: {error}"));
    assert_eq!(
        failed,
        FailOutcome::WillRetry,
        "POST /analyses must queue a job that may be retried (the queue's default attempts): \
         after its first run failed, the job is not failed for good"
    );
    let recording = setup.env.record_redis().await;
    let path = format!("/analyses/{queued}?wait=1");
    let reply = tokio::time::timeout(Duration::from_secs(11), call(&setup, "GET", &path, None))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "GET /analyses/{{id}}?wait=1 of an analysis waiting to be retried had not \
                 answered 11 s later: a wait gives up when its time is up"
            )
        });
    let sent = recording.finish().await;
    reply.expect_status(200, "a wait on an analysis waiting to be retried");
    let body = reply.json("an analysis waiting to be retried");
    let blocked = sent
        .commands
        .iter()
        .any(|command| command.args.contains(&key) && command.block_millis().is_some());
    assert!(
        body["state"] == "waiting_retry" && blocked,
        "an analysis whose run failed and that waits to be retried is not over: it runs again \
         after its backoff, so `?wait=1` must wait for it (a blocking read of {key}) as for a \
         queued or running one, and answer the state it is in when the time is up. Wait on \
         every state that is not final (`!job.state.is_final()`), not a list of states that \
         forgets waiting_retry; it answered {body} and sent {}",
        short_listing(&sent)
    );
}
