//! What operators and clients ask of the service itself: `/health`,
//! `/metrics`, `/openapi.json`, and JSON answers for unknown routes and
//! methods.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bson::doc;
use serde::Serialize;

use super::ApiState;
use super::error::ApiError;
use super::routes::{self, ROUTES};

/// Requests answered since the process started, by status class.
#[derive(Debug, Default)]
pub struct RequestCounts {
    /// 2xx answers.
    pub success: AtomicU64,
    /// 4xx answers.
    pub client_errors: AtomicU64,
    /// 5xx answers (503 when a store is down; never a 500 by design).
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

/// `GET /health`: 200 while MongoDB answers (Redis down only makes the
/// service "degraded": reads still work), 503 otherwise.
#[utoipa::path(
    get,
    path = "/health",
    summary = "Whether MongoDB and Redis answer",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
pub async fn health(State(state): State<ApiState>) -> Response {
    let mongodb = match state.db.run_command(doc! { "ping": 1 }).await {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!("unreachable: {error}"),
    };
    let redis = match state.store.get("health:probe").await {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.to_string(),
    };
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

/// What `/metrics` answers with: OpenMetrics text, which Prometheus scrapes.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: answers by status class, the customer cache's counters
/// and the job queue's gauges, in the OpenMetrics text format (the
/// `prometheus-client` crate's encoder). The job gauges are left out while
/// Redis does not answer: metrics never fail.
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Request, cache and job counters, in the OpenMetrics text format Prometheus scrapes",
    responses((status = 200, content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut registry = prometheus_client::registry::Registry::with_prefix("lab");
    let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    for (class, counter) in [
        ("success", &state.requests.success),
        ("client_errors", &state.requests.client_errors),
        ("server_errors", &state.requests.server_errors),
    ] {
        registry.register(
            format!("requests_{class}"),
            format!("Requests answered with {}", class.replace('_', " ")),
            ConstCounter::new(read(counter)),
        );
    }
    for (name, value) in counters(&state.cache.stats()) {
        registry.register(
            format!("customer_cache_{name}"),
            format!("Customer cache: {}", name.replace('_', " ")),
            ConstCounter::new(value),
        );
    }
    if let Ok(stats) = state.jobs.stats().await {
        for (name, value) in counters(&stats) {
            registry.register(
                format!("jobs_{name}"),
                format!("Jobs {}", name.replace('_', " ")),
                ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)),
            );
        }
    }
    let mut text = String::new();
    // The encoder fails only when its writer does, and a String takes
    // every write.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}

/// The named numbers of a flat record of counters (its serialized fields),
/// so a counter added to the record is exported without a second list.
fn counters(record: &impl Serialize) -> Vec<(String, u64)> {
    match serde_json::to_value(record) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .filter_map(|(name, value)| value.as_u64().map(|value| (name, value)))
            .collect(),
        _ => Vec::new(),
    }
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
