//! The billing API: the course notes' Flask service, done in Rust with axum.
//!
//! Customers and invoices live in MongoDB; `GET /customers/{id}` is served
//! through the customer cache in Redis ([`crate::cache::customer`]). Every
//! failure a client can cause has its own status code and a JSON body
//! ([`error::ApiError`]); bodies are limited in size, requests in time.
//!
//! [`crate::startup::Application`] connects, binds and serves it:
//!
//! ```no_run
//! # async fn example(config: &lab::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let app = lab::startup::Application::build(config, 8000).await?;
//! app.run_until(std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! A router can also be called without a socket, as the tests and notebook
//! 07 do: [`local::call`], or [`local::exchange`] for any router.
//!
//! Each handler says what it answers in a `#[utoipa::path]` attribute, and
//! [`routes::ApiDoc`] gathers them into the OpenAPI document that
//! `GET /openapi.json` serves and `GET /` lists.

pub mod connections;
pub mod customers;
pub mod error;
pub mod extract;
pub mod guard;
pub mod invoices;
pub mod jobs;
pub mod limits;
pub mod local;
pub mod ops;
pub mod paging;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{get, get_service, post, put};
use mongodb::{Collection, Database};
use tower_http::trace::TraceLayer;

use crate::billing::collections;
use crate::billing::{Customer, Invoice};
use crate::cache::store::DEFAULT_DEADLINE;
use crate::cache::{CustomerCache, Outbox, RedisStore};
use crate::jobs::{Changes, JobQueue};
use crate::services::RedisConnection;

pub use error::ApiError;

/// Runs `work` to its end whether or not the request is still waiting
/// ([`crate::tasks::to_completion`]).
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    crate::tasks::to_completion(work)
        .await
        .unwrap_or_else(|stopped| {
            Err(ApiError::Unavailable {
                detail: stopped.to_string(),
            })
        })
}

/// How long one request may take before it is answered with 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for an unreachable MongoDB before it is
/// answered with 503.
pub const DATABASE_WAIT: Duration = Duration::from_secs(1);

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The billing database.
    pub db: Database,
    /// Redis, with deadlines.
    pub store: RedisStore,
    /// The cache in front of `GET /customers/{id}`.
    pub cache: CustomerCache,
    /// Answers by status class, for `/metrics`.
    pub requests: Arc<ops::RequestCounts>,
    /// The background job queue.
    pub jobs: JobQueue,
    /// Wake-ups when jobs change, for `?wait=` and the event streams.
    pub changes: Changes,
    /// Whether drill jobs are accepted (`LAB_JOB_DRILLS`).
    pub drills: bool,
    /// What a request must show before a handler sees it.
    pub guard: Arc<guard::Guard>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("database", &self.db.name())
            .field("cache", &self.cache)
            .finish()
    }
}

impl ApiState {
    /// State over an open database and Redis connection. Waiting on jobs
    /// polls every [`RECHECK`](crate::jobs::events::RECHECK) until
    /// [`ApiState::with_changes`] gives it a subscription; drills are refused.
    pub fn new(db: Database, redis: impl Into<RedisConnection>) -> ApiState {
        let redis = redis.into();
        let jobs = JobQueue::new(redis.clone(), crate::jobs::PREFIX);
        let store = RedisStore::new(redis, DEFAULT_DEADLINE);
        let cache = CustomerCache::with_outbox(
            store.clone(),
            collections::customers(&db),
            Outbox::new(&db),
        );
        ApiState {
            db,
            store,
            cache,
            requests: Arc::new(ops::RequestCounts::default()),
            jobs,
            changes: Changes::polling(),
            drills: false,
            guard: Arc::new(guard::Guard::open()),
        }
    }

    /// The same state, woken by `changes` when jobs change.
    pub fn with_changes(mut self, changes: Changes) -> ApiState {
        self.changes = changes;
        self
    }

    /// The same state, on the job queue `jobs` (another key prefix, as the
    /// notebooks use).
    pub fn with_jobs(mut self, jobs: JobQueue) -> ApiState {
        self.jobs = jobs;
        self
    }

    /// The same state, behind `guard`.
    pub fn with_guard(mut self, guard: guard::Guard) -> ApiState {
        self.guard = Arc::new(guard);
        self
    }

    /// The same state, accepting drill jobs if `drills`.
    pub fn with_drills(mut self, drills: bool) -> ApiState {
        self.drills = drills;
        self
    }

    /// The typed customers collection.
    pub fn customers(&self) -> Collection<Customer> {
        collections::customers(&self.db)
    }

    /// The typed invoices collection.
    pub fn invoices(&self) -> Collection<Invoice> {
        collections::invoices(&self.db)
    }
}

/// The billing API's router. Its routes are described by the handlers'
/// attributes ([`routes::ApiDoc`]); a test compares the two.
pub fn router(state: ApiState) -> Router {
    let billing = Router::new()
        .route("/", get(ops::index))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/customers", post(customers::create).get(customers::list))
        .route(
            "/customers/{id}",
            // The hot path gets the cache alone: a handler given the whole
            // state clones all of it for every request.
            get_service(customers::get.with_state(state.cache.clone()))
                .patch(customers::update)
                .delete(customers::delete),
        )
        .route("/customers/{id}/revenue", get(customers::revenue))
        .route("/customers/{id}/invoices", get(invoices::of_customer))
        .route("/invoices", post(invoices::create))
        .route("/invoices/{id}", get(invoices::get))
        .route("/invoices/{id}/status", put(invoices::set_status))
        .route("/jobs", post(jobs::submit).get(jobs::list))
        .route("/jobs/{id}/result", get(jobs::result))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        // An event stream answers at once and then stays open: the timeout
        // below only limits how long its headers take.
        .route("/jobs/{id}/events", get(jobs::stream::events))
        .layer(axum::middleware::from_fn_with_state(
            REQUEST_TIMEOUT,
            ops::deadline,
        ));
    // `?wait=` may hold a request for up to MAX_WAIT seconds.
    let waiting = Router::new().route("/jobs/{id}", get(jobs::get)).layer(
        axum::middleware::from_fn_with_state(
            REQUEST_TIMEOUT + Duration::from_secs(jobs::MAX_WAIT),
            ops::deadline,
        ),
    );
    billing
        .merge(waiting)
        .fallback(ops::no_route)
        .method_not_allowed_fallback(ops::wrong_method)
        // The middlewares hold only what they use: axum clones a
        // middleware's state twice per request, and the whole `ApiState`
        // is a dozen reference counts shared between threads.
        .layer(axum::middleware::from_fn_with_state(
            state.guard.clone(),
            guard::check,
        ))
        .layer(axum::middleware::from_fn(limits::check))
        .layer(axum::middleware::from_fn_with_state(
            state.requests.clone(),
            ops::count,
        ))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then finishes
/// the requests under way. Invalidations Redis missed are retried in the
/// background meanwhile.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cache = state.cache.clone();
    let retries = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            cache.retry_pending().await;
        }
    });
    let served = connections::serve_router(listener, router(state), shutdown).await;
    retries.abort();
    served
}
