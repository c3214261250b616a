//! The capstone: the course notes' billing service, end to end.
//!
//! Scenario: the notes sketch a Flask service with two halves. The first
//! answers `GET /customers/<id>` from Redis when it can and from MongoDB when
//! it must, keeps a copy for an hour, and tells the client where the answer
//! came from. The second lets a user ask for an analysis that takes a while:
//! the request is accepted at once, workers do the work in the background,
//! and the user can ask how it stands and be told when it is over. Here that
//! service is one axum router over the lab's pieces: the billing data in
//! MongoDB, Redis as the cache, and the lab's job queue (`lab::jobs`), whose
//! workers run the analyses and record every change of a job in its event
//! stream.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /customers/{id}` | 200 `{"source": "cache" \| "database", "customer": {...}}`; 404 `{"error": "Customer not found"}`; 400 `{"error": ...}` for an id that is not 24 hexadecimal digits |
//! | `POST /analyses` with `{"kind", "params"}` (`params` may be left out: `{}`) | 202, `Location: /analyses/{id}`, `{"id", "state": "queued"}`; 422 `{"error": ...}` for an unknown kind or parameters the analysis refuses |
//! | `GET /analyses/{id}` | 200 `{"id", "kind", "state", "result"}`, `result` being `null` until the job has succeeded; 404 `{"error": "Analysis not found"}`; 400 for a malformed id |
//! | `GET /analyses/{id}?wait=SECONDS` | the same, answered as soon as the job is over, or after SECONDS (0 to [`MAX_WAIT`]) with the state it is in; 400 for another wait |
//!
//! The customer cache is the notes' cache-aside: the key `customer:{id}`
//! ([`customer_key`]) holds the customer's JSON for [`CUSTOMER_TTL_SECONDS`];
//! "no such customer" is remembered as the text `null` for
//! [`MISSING_TTL_SECONDS`], so a wrong id does not reach MongoDB on every
//! request. Redis or MongoDB failing is a 503 `{"error": ...}`.

use std::time::Duration;

use lab::axum::extract::rejection::{JsonRejection, QueryRejection};
use lab::axum::extract::{Path, Query, State};
use lab::axum::http::{StatusCode, header};
use lab::axum::response::{IntoResponse, Response};
use lab::axum::routing::{get, post};
use lab::axum::{Json, Router};
use lab::billing::collections::customers;
use lab::billing::json::CustomerJson;
use lab::bson::doc;
use lab::bson::oid::ObjectId;
use lab::jobs::kinds::Analysis;
use lab::jobs::{JobId, JobQueue, NewJob, results};
use lab::mongodb::Database;
use lab::redis::aio::{ConnectionManager, MultiplexedConnection};
use lab::redis::{AsyncCommands, AsyncConnectionConfig, RedisError, RedisResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use tokio::time::Instant;

/// How long a customer stays cached: an hour, as in the notes.
pub const CUSTOMER_TTL_SECONDS: u64 = 3600;
/// How long "no such customer" stays cached: long enough to spare MongoDB a
/// burst of lookups of a wrong id, short enough that a customer created
/// meanwhile is soon found.
pub const MISSING_TTL_SECONDS: u64 = 60;
/// The longest `?wait=`, in seconds.
pub const MAX_WAIT: u64 = 30;
/// The message of the 404 for an unknown customer, the notes' own words.
pub const CUSTOMER_NOT_FOUND: &str = "Customer not found";
/// The message of the 404 for an unknown analysis.
pub const ANALYSIS_NOT_FOUND: &str = "Analysis not found";

/// What the routes share.
#[derive(Clone)]
pub struct Billing {
    /// Redis, for the customer cache.
    pub cache: ConnectionManager,
    /// The billing data: customers, invoices, and the jobs' results.
    pub database: Database,
    /// The lab's job queue; its workers run elsewhere.
    pub queue: JobQueue,
    /// Opens the connections a waiting request blocks on
    /// ([`Billing::waiting_connection`]).
    pub waits: lab::redis::Client,
}

impl Billing {
    /// A new Redis connection of its own, for one request that blocks in
    /// `XREAD BLOCK`. A blocking command holds its connection until it is
    /// answered: sent on `cache` or through `queue` (each one connection
    /// shared by every request), it would hold up every other request until
    /// the wait is over. Its response timeout leaves room for the longest
    /// wait.
    ///
    /// A teaching simplification: a connection per waiting request suits a
    /// few waiters. The lab's own API serves any number with one pub/sub
    /// subscription per process (`lab::jobs::Changes`, used by
    /// `src/api/jobs/`), at the price of a wake-up that can be missed and
    /// must be backed by a look at the stream.
    pub async fn waiting_connection(&self) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(Duration::from_secs(MAX_WAIT + 5)));
        self.waits
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}

/// The body of `POST /analyses`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// Which analysis (`lab::jobs::kinds::KINDS`).
    pub kind: String,
    /// Its parameters; `{}` when left out.
    pub params: Option<Value>,
}

/// The query of `GET /analyses/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// How many seconds to wait for the job to be over.
    pub wait: Option<u64>,
}

/// Why a request was not answered with what it asked for. Each variant is
/// one status code and a JSON `{"error": ...}` ([`IntoResponse`]).
#[derive(Debug, Error)]
pub enum ApiError {
    /// 400: the request is malformed (an id, a query, JSON that does not parse).
    #[error("{0}")]
    BadRequest(String),
    /// 404: there is no such thing.
    #[error("{0}")]
    NotFound(&'static str),
    /// 422: well-formed, but refused (an unknown kind, a bad parameter).
    #[error("{0}")]
    Invalid(String),
    /// 503: Redis did not answer.
    #[error("redis did not answer: {0}")]
    Redis(#[from] RedisError),
    /// 503: MongoDB did not answer.
    #[error("mongodb did not answer: {0}")]
    Mongo(#[from] lab::mongodb::error::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, (*message).to_owned()),
            ApiError::Invalid(message) => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
            // The cause stays on the server: the client learns only that it
            // may try again. (A teaching simplification: a real service logs
            // `self` here.)
            ApiError::Redis(_) | ApiError::Mongo(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is unavailable; try again shortly".to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection {
            // JSON of the wrong shape (a missing `kind`, a number for it).
            JsonRejection::JsonDataError(error) => ApiError::Invalid(error.body_text()),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// The Redis key of customer `id`'s cached JSON: `customer:{id}`, as in the
/// notes.
pub fn customer_key(id: ObjectId) -> String {
    format!("customer:{id}")
}

/// `text` as an id of 24 hexadecimal digits, or a 400 naming `what` it was.
pub fn parse_id(text: &str, what: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse_str(text).map_err(|_| {
        ApiError::BadRequest(format!(
            "{text:?} is not {what}: an id is 24 hexadecimal digits"
        ))
    })
}

/// The key of job `id`'s event stream, in which the queue records every
/// change of the job (`type state state succeeded ...`) as it makes it.
pub fn events_key(queue: &JobQueue, id: &JobId) -> String {
    queue.keys().shard_of(id.as_str()).events(id.as_str())
}

/// The routes of the table above, with `billing` as their state.
pub fn router(billing: Billing) -> Router {
    Router::new()
        .route("/customers/{id}", get(customer))
        .route("/analyses", post(submit))
        .route("/analyses/{id}", get(status))
        .with_state(billing)
}

/// `GET /customers/{id}`: cache-aside, as in the notes.
async fn customer(
    State(billing): State<Billing>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // A malformed id is refused before Redis or MongoDB hear of it (the
    // notes' `ObjectId(customer_id)` raised, which Flask turned into a 500).
    let id = parse_id(&id, "a customer id")?;
    let key = customer_key(id);
    let mut redis = billing.cache.clone();
    let cached: Option<String> = redis.get(&key).await?;
    match cached.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Null)) => return Err(ApiError::NotFound(CUSTOMER_NOT_FOUND)),
        Some(Ok(customer)) => return Ok(found("cache", customer)),
        // Nothing cached, or text that is not JSON (written by something
        // else): MongoDB has the answer, and the fill below replaces it.
        None | Some(Err(_)) => {}
    }
    let Some(customer) = customers(&billing.database)
        .find_one(doc! { "_id": id })
        .await?
    else {
        // Remembered briefly, so a burst of lookups of this id reads
        // MongoDB once; never for ever, or a customer created later would
        // stay "not found".
        redis
            .set_ex::<_, _, ()>(&key, "null", MISSING_TTL_SECONDS)
            .await?;
        return Err(ApiError::NotFound(CUSTOMER_NOT_FOUND));
    };
    let shown = CustomerJson::of(&customer);
    // The value and its expiry in one command (SETEX): SET then EXPIRE would
    // leave a moment, or after a crash for ever, without one.
    redis
        .set_ex::<_, _, ()>(&key, shown.to_json(), CUSTOMER_TTL_SECONDS)
        .await?;
    Ok(found("database", shown))
}

/// The notes' answer for a customer: where it came from, and the customer.
fn found(source: &str, customer: impl Serialize) -> Response {
    Json(json!({ "source": source, "customer": customer })).into_response()
}

/// `POST /analyses`: checked, queued, and answered at once.
async fn submit(
    State(billing): State<Billing>,
    body: Result<Json<AnalysisRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let params = request.params.unwrap_or_else(|| json!({}));
    // Parameters are checked now, while the client is still there to be
    // told; the analysis itself is not run: that is the workers' job, and
    // it may take longer than a client waits for an answer.
    Analysis::parse(&request.kind, &params)
        .map_err(|error| ApiError::Invalid(error.to_string()))?;
    let job = NewJob::new(&request.kind, params.to_string());
    let (id, _) = billing.queue.submit(&job).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/analyses/{id}"))],
        Json(json!({ "id": id, "state": "queued" })),
    )
        .into_response())
}

/// `GET /analyses/{id}`, with `?wait=` long polling.
async fn status(
    State(billing): State<Billing>,
    Path(id): Path<String>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = JobId::from(parse_id(&id, "an analysis id")?);
    let Query(query) = query?;
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(ApiError::BadRequest(format!(
            "wait must be from 0 to {MAX_WAIT} seconds, got {wait}"
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut job = billing
        .queue
        .get(&id)
        .await?
        .ok_or(ApiError::NotFound(ANALYSIS_NOT_FOUND))?;
    if !job.state.is_final() && wait > 0 {
        wait_until_over(&billing, &id, deadline).await?;
        job = billing
            .queue
            .get(&id)
            .await?
            .ok_or(ApiError::NotFound(ANALYSIS_NOT_FOUND))?;
    }
    // `null` until the job has succeeded; then the result saved by the run
    // that completed it.
    let result = results::visible(&billing.database, &job).await?;
    Ok(Json(json!({
        "id": id,
        "kind": job.kind,
        "state": job.state,
        "result": result,
    })))
}

/// Returns once job `id`'s event stream records a final state, or at
/// `deadline`, whichever comes first, without asking again and again: Redis
/// holds an `XREAD BLOCK` until the stream has something new.
async fn wait_until_over(billing: &Billing, id: &JobId, deadline: Instant) -> Result<(), ApiError> {
    let key = events_key(&billing.queue, id);
    // Opened only when there is something to wait for.
    let mut waiting: Option<MultiplexedConnection> = None;
    // The last event read. The stream is the record: a job that ended
    // between the caller's look at its state and this wait is found here,
    // where a wake-up sent before the wait began would have been missed.
    let mut last: Option<String> = None;
    loop {
        let events = billing.queue.events(id, last.as_deref()).await?;
        if events.iter().any(|event| event.data.is_final()) {
            return Ok(());
        }
        if let Some(event) = events.last() {
            last = Some(event.id.clone());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        let connection = match &mut waiting {
            Some(connection) => connection,
            None => waiting.insert(billing.waiting_connection().await?),
        };
        // BLOCK takes milliseconds, and BLOCK 0 means "for ever": the last
        // moments are rounded up to 1 ms, never down to 0.
        let millis = u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1);
        // Nil when the time ran out; otherwise the new entries, which the
        // next turn reads (and parses) with `queue.events`.
        let answer: Option<lab::redis::Value> = lab::redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(millis)
            .arg("STREAMS")
            .arg(&key)
            .arg(last.as_deref().unwrap_or("0-0"))
            .query_async(connection)
            .await?;
        if answer.is_none() {
            return Ok(());
        }
    }
}
