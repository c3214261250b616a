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
    Router::new()
        .route("/reports", post(submit))
        .route("/reports/{id}", get(show))
        .route("/reports/{id}/result", get(result))
        .with_state(reports)
}

async fn submit(
    State(reports): State<Reports>,
    Json(request): Json<ReportRequest>,
) -> Result<Response, Response> {
    let params = match &request.customer_id {
        Some(id) if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "customer_id must be 24 hexadecimal digits",
            ));
        }
        Some(id) => json!({ "customer_id": id }),
        None => json!({}),
    };
    let job = NewJob::new("revenue_by_customer", params.to_string());
    let (id, _) = reports.queue.submit(&job).await.map_err(unavailable)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/reports/{id}"))],
        Json(json!({ "id": id, "state": "queued" })),
    )
        .into_response())
}

async fn show(
    State(reports): State<Reports>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    // Text that cannot be a job id names no report: the same 404.
    let Ok(id) = id.parse::<JobId>() else {
        return Err(error(StatusCode::NOT_FOUND, "Report not found"));
    };
    match reports.queue.get(&id).await.map_err(unavailable)? {
        Some(job) => Ok(Json(json!({ "id": id, "state": job.state })).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "Report not found")),
    }
}

async fn result(
    State(reports): State<Reports>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    // Text that cannot be a job id names no report: the same 404.
    let Ok(id) = id.parse::<JobId>() else {
        return Err(error(StatusCode::NOT_FOUND, "Report not found"));
    };
    let Some(job) = reports.queue.get(&id).await.map_err(unavailable)? else {
        return Err(error(StatusCode::NOT_FOUND, "Report not found"));
    };
    if job.state != JobState::Succeeded {
        return Err((
            StatusCode::CONFLICT,
            Json(json!({
                "error": "the report is not ready",
                "state": job.state,
            })),
        )
            .into_response());
    }
    let shown = results::visible(&reports.database, &job)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({ "id": id, "result": shown })).into_response())
}
