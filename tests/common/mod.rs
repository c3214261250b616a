//! What the integration tests share: calling the API's router without a
//! socket, and a worker running in the background ([`worker`]).

#![allow(dead_code)] // Each test file uses its own share of these.

pub mod worker;

use axum::http::{HeaderMap, Method, StatusCode, header};
use lab::api::local::{Payload, exchange};
use lab::api::{ApiState, router};
use serde_json::Value;

/// One request, answered: status, headers, and the body as JSON (or
/// `Value::Null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The raw answer to `method path` with `headers` and `body`.
pub async fn raw(
    state: &ApiState,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    // As a client on the same machine would name it.
    let mut all = vec![(header::HOST.as_str(), "localhost")];
    all.extend_from_slice(headers);
    let payload = match &body {
        Some((content_type, bytes)) => Payload::Raw {
            content_type: Some(content_type),
            bytes,
        },
        None => Payload::Empty,
    };
    let response = exchange(router(state.clone()), method.as_str(), path, &all, payload)
        .await
        .unwrap();
    let (parts, bytes) = response.into_parts();
    (parts.status, parts.headers, bytes.unwrap().to_vec())
}

/// `method path` with `headers` and `body`, answered; every error must be
/// JSON.
pub async fn call_with(
    state: &ApiState,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let (status, headers, bytes) = raw(state, method, path, headers, body).await;
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "every error is JSON ({status} for {path})"
        );
    }
    let location = headers
        .get(header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned());
    // JSON, or the text of a body that is not (`/metrics`).
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        location,
        headers,
        body,
    }
}

pub async fn call(
    state: &ApiState,
    method: Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    call_with(state, method, path, &[], body).await
}

/// The value of counter or gauge `name` (without `_total`) at `/metrics`,
/// which must be OpenMetrics text; `None` when it is not listed.
pub async fn metric(state: &ApiState, name: &str) -> Option<u64> {
    let (status, headers, bytes) = raw(state, Method::GET, "/metrics", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let kind = headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name || key == format!("{name}_total")).then(|| value.parse().unwrap())
    })
}

pub async fn get(state: &ApiState, path: &str) -> Answer {
    call(state, Method::GET, path, None).await
}

pub async fn send(state: &ApiState, method: Method, path: &str, body: Value) -> Answer {
    let bytes = serde_json::to_vec(&body).unwrap();
    call(state, method, path, Some(("application/json", bytes))).await
}
