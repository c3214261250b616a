//! What operators and clients ask of the service itself: `/health`,
//! `/metrics`, `/openapi.json`, and JSON answers for unknown routes and
//! methods.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bson::doc;
use serde::Serialize;

use super::ApiState;
use super::error::ApiError;
use super::routes::{self, ROUTES};
use crate::cache::customer::StatsSnapshot;
use crate::jobs::QueueStats;
use crate::services::clients::first_line;

/// Requests answered since the process started, by status class.
#[derive(Debug, Default)]
pub struct RequestCounts {
    /// 2xx and 3xx answers.
    pub success: AtomicU64,
    /// 4xx answers.
    pub client_errors: AtomicU64,
    /// 5xx answers (503 when a store is down; 500 only for a stored document
    /// that breaks the billing rules).
    pub server_errors: AtomicU64,
}

/// Counts every answer by class.
pub async fn count(
    State(requests): State<Arc<RequestCounts>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let counter = match response.status().as_u16() {
        200..=399 => &requests.success,
        400..=499 => &requests.client_errors,
        _ => &requests.server_errors,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    response
}

/// Gives up on a request its handler has not answered within `limit`
/// (a store that stopped answering mid-request holds it until then):
/// 503 with the API's JSON error, and the handler is dropped, which ends
/// its work. An event stream counts as answered once its headers are out.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut { limit, writes }.into_response(),
    }
}

/// The answer of `GET /health`.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok`, `degraded` (Redis does not answer) or `unavailable`.
    status: &'static str,
    /// `ok`, or why MongoDB does not answer.
    mongodb: String,
    /// `ok`, or why Redis does not answer.
    redis: String,
}

/// How long `/health` waits for each server.
const HEALTH_WAIT: Duration = Duration::from_secs(2);

/// `GET /health`: 200 while MongoDB answers (Redis down only makes the
/// service "degraded": reads still work), 503 otherwise.
#[utoipa::path(
    get,
    path = "/health",
    summary = "Whether MongoDB and Redis answer",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
pub async fn health(State(state): State<ApiState>) -> Response {
    // Both asked at once, each given up after `HEALTH_WAIT`: a health
    // check that hangs on a paused server tells its caller nothing.
    let quiet = || format!("no answer within {HEALTH_WAIT:?}");
    let (mongodb, redis) = tokio::join!(
        async {
            match tokio::time::timeout(HEALTH_WAIT, state.db.run_command(doc! { "ping": 1 })).await
            {
                Ok(Ok(_)) => "ok".to_owned(),
                Ok(Err(error)) => format!("unreachable: {}", first_line(&error)),
                Err(_) => format!("unreachable: {}", quiet()),
            }
        },
        async {
            match tokio::time::timeout(HEALTH_WAIT, state.store.get("health:probe")).await {
                Ok(Ok(_)) => "ok".to_owned(),
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("the cache is unavailable: {}", quiet()),
            }
        }
    );
    let (status, word) = match (mongodb == "ok", redis == "ok") {
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::OK, "degraded"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    (
        status,
        Json(Health {
            status: word,
            mongodb,
            redis,
        }),
    )
        .into_response()
}

/// What `/metrics` answers with: OpenMetrics text, the format the
/// `prometheus-client` encoder writes and Prometheus scrapes.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: answers by status class, the customer cache's counters
/// and the job queue's gauges, in the OpenMetrics text format (the
/// `prometheus-client` crate's encoder). The job gauges are left out while
/// Redis does not answer: metrics never fail.
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Request, cache and job counters, in the OpenMetrics text format Prometheus scrapes",
    responses((
        status = 200,
        description = "Each counter and gauge as `# HELP`, `# TYPE` and one `name value` line (counters end in `_total`), then `# EOF`",
        content_type = "application/openmetrics-text"
    ))
)]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    // Within the job routes' deadline: a Redis that stopped answering
    // leaves the gauges out at once rather than holding the scrape.
    let jobs = super::jobs::queue(state.jobs.stats()).await.ok();
    let text = exposition(&state.requests, &state.cache.stats(), jobs.as_ref());
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}

/// One number `/metrics` shows: its name after `lab_` (and before `_total`
/// for a counter), what it counts, in words for whoever reads a dashboard,
/// and its value.
struct Exported {
    name: &'static str,
    help: &'static str,
    value: u64,
}

/// The text of `/metrics`: requests and cache as counters (they only grow
/// while the process runs), the job queue as gauges (jobs come and go), the
/// latter only when Redis answered.
fn exposition(
    requests: &RequestCounts,
    cache: &StatsSnapshot,
    jobs: Option<&QueueStats>,
) -> String {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut registry = prometheus_client::registry::Registry::with_prefix("lab");
    for counter in request_counters(requests)
        .into_iter()
        .chain(cache_counters(cache))
    {
        registry.register(counter.name, counter.help, ConstCounter::new(counter.value));
    }
    for gauge in jobs.map(job_gauges).into_iter().flatten() {
        registry.register(gauge.name, gauge.help, ConstGauge::new(gauge.value));
    }
    let mut text = String::new();
    // The encoder fails only when its writer does, and a String takes
    // every write.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// Answers by status class, as [`count`] sorts them.
fn request_counters(requests: &RequestCounts) -> [Exported; 3] {
    let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    [
        Exported {
            name: "requests_success",
            help: "Requests answered with a 2xx or 3xx status",
            value: read(&requests.success),
        },
        Exported {
            name: "requests_client_errors",
            help: "Requests answered with a 4xx status: bad input, an unknown route or id, a missing key",
            value: read(&requests.client_errors),
        },
        Exported {
            name: "requests_server_errors",
            help: "Requests answered with a 5xx status, such as 503 while MongoDB does not answer",
            value: read(&requests.server_errors),
        },
    ]
}

/// The customer cache's counters. The record is taken apart field by
/// field, not read through a loop over its fields, so that a counter added
/// to [`StatsSnapshot`] does not compile until it is exported here with
/// words that say what it counts.
fn cache_counters(stats: &StatsSnapshot) -> [Exported; 10] {
    let StatsSnapshot {
        hits,
        negative_hits,
        misses,
        fallbacks,
        database_reads,
        coalesced,
        write_backs,
        stale_write_backs_refused,
        invalidations,
        invalidations_deferred,
    } = *stats;
    [
        Exported {
            name: "customer_cache_hits",
            help: "Customer lookups answered from Redis, negative entries included",
            value: hits,
        },
        Exported {
            name: "customer_cache_negative_hits",
            help: "Customer lookups answered from Redis by a negative entry: no such customer",
            value: negative_hits,
        },
        Exported {
            name: "customer_cache_misses",
            help: "Customer lookups Redis had no usable entry for, which went to MongoDB",
            value: misses,
        },
        Exported {
            name: "customer_cache_fallbacks",
            help: "Customer lookups that went to MongoDB because Redis was down or too slow",
            value: fallbacks,
        },
        Exported {
            name: "customer_cache_database_reads",
            help: "Reads of MongoDB made by the customer cache",
            value: database_reads,
        },
        Exported {
            name: "customer_cache_coalesced",
            help: "Customer lookups that waited for another lookup's MongoDB read instead of making their own",
            value: coalesced,
        },
        Exported {
            name: "customer_cache_write_backs",
            help: "Answers written back to Redis after a MongoDB read, negative entries included",
            value: write_backs,
        },
        Exported {
            name: "customer_cache_stale_write_backs_refused",
            help: "Write-backs refused because the customer changed while it was read",
            value: stale_write_backs_refused,
        },
        Exported {
            name: "customer_cache_invalidations",
            help: "Cache entries removed after a customer was changed, created or deleted",
            value: invalidations,
        },
        Exported {
            name: "customer_cache_invalidations_deferred",
            help: "Invalidations that could not reach Redis at first and were retried",
            value: invalidations_deferred,
        },
    ]
}

/// The job queue's gauges, taken apart field by field for the same reason
/// as [`cache_counters`].
fn job_gauges(stats: &QueueStats) -> [Exported; 4] {
    let QueueStats {
        queued,
        running,
        waiting_retry,
        dead,
    } = *stats;
    [
        Exported {
            name: "jobs_queued",
            help: "Jobs waiting for a worker",
            value: queued,
        },
        Exported {
            name: "jobs_running",
            help: "Jobs held by a worker now",
            value: running,
        },
        Exported {
            name: "jobs_waiting_retry",
            help: "Failed jobs waiting for their next attempt",
            value: waiting_retry,
        },
        Exported {
            name: "jobs_dead",
            help: "Jobs on the dead-letter list, which lab jobs requeue puts back",
            value: dead,
        },
    ]
}

/// `GET /openapi.json`: the API described in OpenAPI 3.1, gathered from
/// the handlers' attributes ([`routes::ApiDoc`]).
#[utoipa::path(
    get,
    path = "/openapi.json",
    summary = "This document",
    responses((status = 200, content_type = "application/json"))
)]
pub async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(routes::document())
}

/// Any route the API does not have.
pub async fn no_route(request: Request) -> ApiError {
    ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.uri().path().chars().take(200).collect(),
    }
}

/// A known route asked with a method it does not take.
pub async fn wrong_method(request: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
    }
}

/// The list of routes, for people: `GET /`, read from the OpenAPI
/// document ([`ROUTES`]).
#[utoipa::path(
    get,
    path = "/",
    summary = "The list of routes",
    responses((status = 200, content_type = "application/json"))
)]
pub async fn index() -> Json<serde_json::Value> {
    let routes: Vec<String> = ROUTES
        .iter()
        .map(|route| format!("{} {}", route.method, route.path))
        .collect();
    Json(serde_json::json!({ "service": "billing", "routes": routes, "openapi": "/openapi.json" }))
}

#[cfg(test)]
mod tests;
