//! A job endpoint: accept a report request at once, run it later, let the
//! client follow it.
//!
//! Scenario: revenue reports take too long to compute inside a request.
//! The routes, on the lab's job queue (`lab::jobs`), with a worker running
//! elsewhere:
//!
//! | method and path | answer |
//! |---|---|
//! | `POST /reports` with `{}` or `{"customer_id": "<24 hex digits>"}` | 202, `Location: /reports/{id}`, `{"id", "state": "queued"}`; 422 `{"error": ...}` for a malformed customer id |
//! | `GET /reports/{id}` | 200 `{"id", "state"}`; 404 `{"error": "Report not found"}` |
//! | `GET /reports/{id}/result` | 200 `{"id", "result"}` once succeeded; 409 `{"error", "state"}` before; 404 as above |
//!
//! A report is a job of kind `revenue_by_customer` whose params are the
//! checked request as JSON text (`{}` or `{"customer_id": ...}`, never
//! fields the table does not have). Redis or MongoDB failing is a 503
//! `{"error": ...}` (the `unavailable` helper).
//! A job may run more than once: its result is the one `results::visible`
//! shows, saved by the run that completed it.

use lab::axum::extract::{Path, State};
use lab::axum::http::{StatusCode, header};
use lab::axum::response::{IntoResponse, Response};
use lab::axum::routing::{get, post};
use lab::axum::{Json, Router};
use lab::jobs::{JobId, JobQueue, JobState, NewJob, results};
use lab::mongodb::Database;
use serde::Deserialize;
use serde_json::json;

/// What the routes share.
#[derive(Clone)]
pub struct Reports {
    /// The job queue.
    pub queue: JobQueue,
    /// Where results are.
    pub database: Database,
}

/// The body of `POST /reports`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportRequest {
    /// Only this customer, when given.
    pub customer_id: Option<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unavailable(_: impl std::fmt::Display) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "a server the reports need (Redis or MongoDB) is unavailable; try again shortly",
    )
}

/// The routes above.
pub fn router(reports: Reports) -> Router {
    // TODO: the three routes of the table above, with `reports` as state.
    todo!()
}

async fn submit(
    State(reports): State<Reports>,
    Json(request): Json<ReportRequest>,
) -> Result<Response, Response> {
    // TODO: check customer_id, submit a revenue_by_customer job, answer 202 with Location and {"id", "state": "queued"}.
    todo!()
}

async fn show(
    State(reports): State<Reports>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    // TODO: parse the id into a JobId (text that is not one names no report: 404), then the job from reports.queue.get: 200 {"id", "state"}, or 404 {"error": "Report not found"}.
    todo!()
}

async fn result(
    State(reports): State<Reports>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    // TODO: 404 for an id that is not a JobId or an unknown job, 409 {"error", "state"} until it succeeded, then 200 {"id", "result"} with results::visible.
    todo!()
}
