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
//!
//! Given: the state ([`Billing`], with [`Billing::waiting_connection`]), the
//! request types, [`ApiError`] (each variant a status and a JSON error, with
//! `?` from Redis, MongoDB and axum's rejections), [`customer_key`],
//! [`parse_id`] and [`events_key`]. Write the parts marked `// TODO`: the
//! router, the three handlers and the wait. Reuse the lab's machinery rather
//! than writing your own: `lab::billing::collections::customers` and
//! `CustomerJson` for the customers, `Analysis::parse` to check a request,
//! `billing.queue` (`submit`, `get`, `events`) for the jobs, and
//! `results::visible` for a result. A worker runs elsewhere; you do not write
//! one. Run `cargo lab grade capstone` to check your work, and
//! `cargo lab hint capstone` if you are stuck.

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
    // TODO: the three routes of the table, `GET /customers/{id}`,
    // `POST /analyses` and `GET /analyses/{id}`, with `billing` as state.
    todo!("router: the routes of the table at the top of the file")
}

/// `GET /customers/{id}`: cache-aside, as in the notes.
async fn customer(
    State(billing): State<Billing>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // TODO: cache-aside, as in the notes. Parse the id (`parse_id`). Look in
    // Redis first (one GET of `customer_key(id)`): a customer found there is
    // answered with "source": "cache", and `null` means "no such customer".
    // On a miss read MongoDB, keep the customer's JSON in Redis for
    // CUSTOMER_TTL_SECONDS (the value and its expiry in one command), and
    // answer with "source": "database". A customer MongoDB does not have is
    // a 404, which may be remembered, briefly: MISSING_TTL_SECONDS. A GET or
    // a SET that Redis refuses is a 503 (`?`): unlike the lab's own API, this
    // service does not fall back to MongoDB when its cache fails.
    todo!("GET /customers/{{id}}: Redis first, then MongoDB, keeping a copy")
}

/// `POST /analyses`: checked, queued, and answered at once.
async fn submit(
    State(billing): State<Billing>,
    body: Result<Json<AnalysisRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    // TODO: take the request out of `body` (`?` answers a rejection), check
    // the kind and params (`{}` when left out) with `Analysis::parse`, queue
    // the job with `billing.queue.submit`, and answer 202 Accepted with
    // `Location: /analyses/{id}` and {"id", "state": "queued"}. Do not run
    // the analysis here: a worker does, later.
    todo!("POST /analyses: check, queue, answer 202")
}

/// `GET /analyses/{id}`, with `?wait=` long polling.
async fn status(
    State(billing): State<Billing>,
    Path(id): Path<String>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    // TODO: parse the id (`parse_id`, then `JobId::from`) and the query (a wait of 0 to MAX_WAIT seconds,
    // else 400). Read the job with `billing.queue.get` (None: 404). With a
    // wait, and while the job is not over, call `wait_until_over` and read
    // the job again. Answer {"id", "kind", "state", "result"}, the result
    // from `results::visible` (null until the job has succeeded).
    todo!("GET /analyses/{{id}}: the job's state and result, after an optional wait")
}

/// Returns once job `id`'s event stream records a final state, or at
/// `deadline`, whichever comes first, without asking again and again: Redis
/// holds an `XREAD BLOCK` until the stream has something new.
async fn wait_until_over(billing: &Billing, id: &JobId, deadline: Instant) -> Result<(), ApiError> {
    // TODO: wait without polling. The queue records every change of the job
    // in its event stream (`events_key`; `billing.queue.events(id, after)`
    // reads and parses the entries after an id). Loop: read the events after
    // the last one seen; stop when one is final (`event.data.is_final()`)
    // or the deadline has passed; otherwise block in
    // `XREAD BLOCK <ms left> STREAMS <key> <last id, or 0-0>` until the next
    // event arrives, on a connection of its own
    // (`billing.waiting_connection()`), never on `billing.cache`, which every
    // request shares. A nil answer means the time ran out.
    todo!("wait_until_over: XREAD BLOCK on the job's event stream")
}
