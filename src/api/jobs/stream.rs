//! `GET /jobs/{id}/events`: a job's events as Server-Sent Events, from an
//! [`EventFeed`], resumable with `Last-Event-ID`.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;

use super::{EventsQuery, NOT_FOUND, queue};
use crate::api::ApiState;
use crate::api::error::ApiError;
use crate::api::extract::{JobIdPath, QueryParams};
use crate::api::routes::IdParam;
use crate::jobs::EventFeed;
use crate::jobs::events::{self, JobEvent};

/// `GET /jobs/{id}/events`.
#[utoipa::path(
    get,
    path = "/jobs/{id}/events",
    summary = "Server-Sent Events: state changes, progress, webhook attempts; resumable with Last-Event-ID",
    params(IdParam, EventsQuery),
    responses((status = 200, content_type = "text/event-stream"), (status = 400), (status = 404), (status = 503))
)]
pub async fn events(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
    headers: HeaderMap,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().unwrap_or("").to_owned()),
        None => query.after,
    };
    if let Some(after) = &resume
        && !events::is_event_id(after)
    {
        return Err(ApiError::BadRequest(format!(
            "{after:?} is not an event id such as 1732190000000-0"
        )));
    }
    let changes = state.changes.subscribe();
    let feed = queue(EventFeed::start(&state.jobs, &id, resume, changes))
        .await?
        .ok_or(NOT_FOUND)?;
    let stream = futures_util::stream::unfold(Follow::Feed(feed), |mut follow| async move {
        let event = follow.next().await?;
        Some((Ok(event), follow))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Where an event stream stands: following the job's events with an
/// [`EventFeed`] (which gives the final event even when the job ends while
/// it looks), or ended after an error.
enum Follow {
    /// Still sending the job's events.
    Feed(EventFeed),
    /// Ended: the job's events are all sent, or Redis failed.
    Ended,
}

impl Follow {
    /// The next event to send, waiting for it; `None` once the job is over
    /// and its events are sent.
    async fn next(&mut self) -> Option<Event> {
        let Follow::Feed(feed) = self else {
            return None;
        };
        match feed.next().await {
            Ok(Some(event)) => Some(sse(&event)),
            Ok(None) => {
                *self = Follow::Ended;
                None
            }
            Err(error) => {
                *self = Follow::Ended;
                Some(failure(&error))
            }
        }
    }
}

/// An `error` event, sent as the last one after Redis failed: the client
/// reconnects with `Last-Event-ID` and loses nothing.
fn failure(error: &redis::RedisError) -> Event {
    tracing::warn!(%error, "job events: Redis failed");
    Event::default()
        .event("error")
        .data(json!({"error": "the job queue is unavailable; reconnect to resume"}).to_string())
}

fn sse(event: &JobEvent) -> Event {
    Event::default()
        .id(event.id.clone())
        .event(event.data.name())
        .data(serde_json::to_string(event).unwrap_or_default())
}
