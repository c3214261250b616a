//! `/jobs`: submit an analysis to run in the background, follow it, read
//! its result, cancel it.
//!
//! - `POST /jobs` `{"kind", "params", "max_attempts"?, "webhook"?}` checks the
//!   parameters at once (422 naming the one at fault) and answers 202 with
//!   `Location: /jobs/{id}`. With an `Idempotency-Key` header, repeating the
//!   request gives the same job (`Idempotent-Replayed: true`); the same key
//!   with a different request is a 409.
//! - `GET /jobs/{id}` (404 for an unknown or expired id); `?wait=SECONDS`
//!   answers as soon as the job is over, or after that long.
//! - `GET /jobs?state=&limit=&after=`: newest first, a page at a time.
//! - `GET /jobs/{id}/result`: 409 until the job has succeeded.
//! - `POST /jobs/{id}/cancel`: 409 if it already succeeded or failed.
//! - `GET /jobs/{id}/events`: Server-Sent Events, one per state change,
//!   progress report and webhook attempt, each with its `id:`; reconnecting
//!   with `Last-Event-ID` (or `?after=`) resumes after that event. The
//!   stream ends once the job is over (`stream.rs`).

pub mod stream;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bson::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ApiState;
use super::error::ApiError;
use super::extract::{JobIdPath, JsonBody, QueryParams, parse_job_id, single_header};
use super::routes::{self, IdParam};
use crate::billing::json::rfc3339;
use crate::jobs::events;
use crate::jobs::kinds::Job;
use crate::jobs::webhooks::{WebhookError, WebhookUrl};
use crate::jobs::{JobId, JobRecord, JobState, NewJob, results};

/// The longest `?wait=`, in seconds.
pub const MAX_WAIT: u64 = 30;
/// The most attempts a job may ask for.
pub const MAX_ATTEMPTS: u32 = 10;
/// The most jobs one page lists.
pub const MAX_PAGE: usize = 200;
const DEFAULT_PAGE: usize = 50;
/// The longest idempotency key.
pub const MAX_KEY: usize = 255;

/// `POST /jobs`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    #[schema(schema_with = routes::job_kind_schema)]
    kind: String,
    /// The kind's parameters, an object (`{}` when left out), each named
    /// once.
    #[serde(default, deserialize_with = "crate::api::extract::unique_keys")]
    #[schema(value_type = Option<Object>)]
    params: Option<Value>,
    #[schema(schema_with = routes::max_attempts_schema)]
    max_attempts: Option<u32>,
    /// A URL that is sent the job's outcome (`http://` only).
    #[schema(pattern = "^http://")]
    webhook: Option<String>,
}

/// `?wait=` of `GET /jobs/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait for the job to be over before answering.
    #[param(schema_with = routes::wait_schema)]
    wait: Option<u64>,
}

/// `?state=&limit=&after=` of `GET /jobs`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this state.
    #[param(schema_with = routes::job_state_schema)]
    state: Option<String>,
    /// The most jobs to list.
    #[param(schema_with = routes::page_limit_schema)]
    limit: Option<usize>,
    /// The last id of the previous page.
    #[param(schema_with = routes::object_id_schema)]
    after: Option<String>,
}

/// `?after=` of `GET /jobs/{id}/events`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id, as `Last-Event-ID` does.
    after: Option<String>,
}

fn date(ms: u64) -> String {
    rfc3339(DateTime::from_millis(ms as i64))
}

/// How a job is shown: everything but its fencing token.
pub fn job_json(job: &JobRecord) -> Value {
    let params: Value = serde_json::from_str(&job.params).unwrap_or(Value::Null);
    let mut shown = json!({
        "id": job.id,
        "kind": job.kind,
        "params": params,
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_at": date(job.created_ms),
        "updated_at": date(job.updated_ms),
        "links": {
            "self": format!("/jobs/{}", job.id),
            "events": format!("/jobs/{}/events", job.id),
            "result": format!("/jobs/{}/result", job.id),
            "cancel": format!("/jobs/{}/cancel", job.id),
        },
    });
    if let Some(error) = &job.error {
        shown["error"] = json!(error);
    }
    if let Some(progress) = &job.progress {
        shown["progress"] = json!(progress);
    }
    if let Some(url) = &job.webhook {
        // Reads need no key: the path and query, where receivers keep their
        // secrets, are not shown.
        let url =
            WebhookUrl::parse(url).map_or_else(|_| "(not shown)".to_owned(), |url| url.redacted());
        shown["webhook"] = json!({ "url": url, "state": job.webhook_state });
    }
    shown
}

const NOT_FOUND: ApiError = ApiError::NotFound("Job not found");

/// How long a job route waits for one answer from Redis before it answers
/// 503: Redis answers in well under a millisecond, so a second means it is
/// down or paused, and a client is better told so than kept waiting.
const QUEUE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// `work` (a call to the job queue) within [`QUEUE_DEADLINE`].
pub(crate) async fn queue<T>(
    work: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(QUEUE_DEADLINE, work).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(ApiError::QueueUnavailable {
            detail: format!("Redis did not answer within {QUEUE_DEADLINE:?}"),
        }),
    }
}

/// The 503 for a submission of job `id` whose answer was lost.
fn uncertain(id: &JobId, detail: String) -> ApiError {
    ApiError::WriteUncertain {
        store: "the job queue",
        location: format!("/jobs/{id}"),
        detail,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = single_header(headers, "Idempotency-Key")? else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty() && key.len() <= MAX_KEY && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters, such as a UUID"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// `POST /jobs`.
#[utoipa::path(
    post,
    path = "/jobs",
    summary = "Submit an analysis to run in the background (Idempotency-Key header optional)",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key gives the same job")),
    request_body = JobRequest,
    responses(
        (status = 202), (status = 400), (status = 408), (status = 409), (status = 413), (status = 415),
        (status = 422), (status = 503),
    )
)]
pub async fn submit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<JobRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let params = request.params.unwrap_or_else(|| json!({}));
    if !params.is_object() {
        return Err(ApiError::invalid(
            "params",
            "must be a JSON object, such as {}",
        ));
    }
    let attempts = request
        .max_attempts
        .unwrap_or(crate::jobs::queue::DEFAULT_ATTEMPTS);
    if !(1..=MAX_ATTEMPTS).contains(&attempts) {
        return Err(ApiError::invalid(
            "max_attempts",
            format!("must be from 1 to {MAX_ATTEMPTS}, got {attempts}"),
        ));
    }
    let parsed = Job::parse(&request.kind, &params, state.drills).map_err(ApiError::from)?;
    let mut job = NewJob::of(&parsed).attempts(attempts);
    if let Some(url) = &request.webhook {
        let refused = |error: WebhookError| ApiError::invalid("webhook", error.to_string());
        let checked = WebhookUrl::parse(url).map_err(refused)?;
        state
            .jobs
            .webhook_policy()
            .check(&checked)
            .map_err(refused)?;
        job = job.webhook(url);
    }
    if let Some(key) = &key {
        job = job.idempotency_key(key);
    }
    // The id is drawn first, so that a submission Redis may have taken
    // without saying so can still be named to the client.
    let drawn = state.jobs.new_id(&job);
    let submitted =
        tokio::time::timeout(QUEUE_DEADLINE, state.jobs.submit_as(drawn.clone(), &job)).await;
    let (id, created) = match submitted {
        Ok(Ok(answer)) => answer,
        // The command was sent and its answer lost: it may have run.
        Ok(Err(error))
            if !error.is_connection_refusal()
                && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped()) =>
        {
            return Err(uncertain(&drawn, error.to_string()));
        }
        // Refused (no connection, or an error reply): nothing was made.
        Ok(Err(error)) => return Err(error.into()),
        Err(_) => {
            let detail = format!("Redis did not answer within {QUEUE_DEADLINE:?}");
            return Err(uncertain(&drawn, detail));
        }
    };
    let stored = match queue(state.jobs.get(&id)).await {
        Ok(stored) => stored.ok_or(NOT_FOUND)?,
        // The job was made: the client is sent to it, not asked to submit
        // again.
        Err(error) if created => return Err(uncertain(&id, error.to_string())),
        Err(error) => return Err(error),
    };
    let same_request = stored.kind == job.kind
        && stored.params == job.params
        && stored.max_attempts == job.max_attempts
        && stored.webhook == job.webhook;
    if !created && !same_request {
        return Err(ApiError::Conflict(format!(
            "Idempotency-Key {:?} was used for a different request (job {id})",
            key.unwrap_or_default()
        )));
    }
    let mut response = (StatusCode::ACCEPTED, Json(job_json(&stored))).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/jobs/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    if !created {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `GET /jobs/{id}`, with `?wait=` long polling.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    summary = "One job; ?wait=SECONDS answers as soon as it is over",
    params(IdParam, WaitQuery),
    responses((status = 200), (status = 400), (status = 404), (status = 503))
)]
pub async fn get(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
    QueryParams(query): QueryParams<WaitQuery>,
) -> Result<Json<Value>, ApiError> {
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(ApiError::BadRequest(format!(
            "wait must be from 0 to {MAX_WAIT} seconds, got {wait}"
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut changes = state.changes.subscribe();
    loop {
        let job = queue(state.jobs.get(&id)).await?.ok_or(NOT_FOUND)?;
        if job.state.is_final() || Instant::now() >= deadline {
            return Ok(Json(job_json(&job)));
        }
        events::changed(&mut changes, &id, deadline).await;
    }
}

/// `GET /jobs`.
#[utoipa::path(
    get,
    path = "/jobs",
    summary = "List jobs, newest first, optionally in one state, a page at a time",
    params(ListQuery),
    responses((status = 200), (status = 400), (status = 503))
)]
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = query
        .state
        .as_deref()
        .map(|name| {
            JobState::parse(name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "state must be one of {}; got {name:?}",
                    JobState::names()
                ))
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let after = query.after.as_deref().map(parse_job_id).transpose()?;
    let jobs = queue(state.jobs.list(wanted, after.as_ref(), limit)).await?;
    let next = (jobs.len() == limit)
        .then(|| jobs.last().map(|job| job.id.clone()))
        .flatten();
    Ok(Json(json!({
        "jobs": jobs.iter().map(job_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

/// `GET /jobs/{id}/result`.
#[utoipa::path(
    get,
    path = "/jobs/{id}/result",
    summary = "The job's result, once it has succeeded",
    params(IdParam),
    responses((status = 200), (status = 400), (status = 404), (status = 409), (status = 503))
)]
pub async fn result(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<Value>, ApiError> {
    let Some(job) = queue(state.jobs.get(&id)).await? else {
        // Past its retention the job is gone from Redis; its result is not.
        let kept = results::kept(&state.db, &id).await?.ok_or(NOT_FOUND)?;
        return Ok(Json(json!({ "id": id, "result": kept })));
    };
    if job.state != JobState::Succeeded {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}; its result can be read once it has succeeded",
            job.state.as_str()
        )));
    }
    let shown = results::visible(&state.db, &job)
        .await?
        .ok_or_else(|| ApiError::Unavailable {
            detail: format!("job {id} succeeded but its result is not in MongoDB"),
        })?;
    Ok(Json(json!({ "id": id, "kind": job.kind, "result": shown })))
}

/// `POST /jobs/{id}/cancel`.
#[utoipa::path(
    post,
    path = "/jobs/{id}/cancel",
    summary = "Cancel a job that has not finished",
    params(IdParam),
    responses((status = 200), (status = 400), (status = 404), (status = 409), (status = 503))
)]
pub async fn cancel(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<Value>, ApiError> {
    let before = queue(state.jobs.cancel(&id)).await?.ok_or(NOT_FOUND)?;
    if matches!(before, JobState::Succeeded | JobState::Failed) {
        return Err(ApiError::Conflict(format!(
            "job {id} has already {}; only unfinished jobs can be cancelled",
            before.as_str()
        )));
    }
    let job = queue(state.jobs.get(&id)).await?.ok_or(NOT_FOUND)?;
    Ok(Json(job_json(&job)))
}
