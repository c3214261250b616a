//! Calling a router without a socket and checking every answer the way a
//! client would: status, `Content-Type`, `Location`, and a JSON error body
//! with an `error` message. Graded API tests read every response through
//! these, so an answer that looks right but is `text/plain`, or an error
//! without a JSON body, loses points with a message that says why.
//!
//! ```no_run
//! # async fn example(router: axum::Router) {
//! use lab::testing::http::{Reply, send};
//! let reply: Reply = send(router, "POST", "/products", Some(serde_json::json!({"name": "Mug"}))).await;
//! reply.expect_status(201, "creating a product");
//! let product = reply.json("the created product");
//! # }
//! ```

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::api::local::{Payload, exchange};

/// An answer of the router, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as bytes.
    pub body: Vec<u8>,
    /// `METHOD path`, for messages.
    pub request: String,
}

/// Sends `method path` to `router`, with `body` as JSON when given
/// (declared `application/json`), and reads the whole answer.
pub async fn send(router: Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    send_with(router, method, path, &[], body).await
}

/// Like [`send`], with extra request headers.
pub async fn send_with(
    router: Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let payload = body.as_ref().map_or(Payload::Empty, Payload::Json);
    read(router, method, path, headers, payload).await
}

/// Sends `body` exactly as given, declared `content_type` (none when
/// `None`): for the requests [`send`] cannot make, such as text that is not
/// JSON, or JSON that is not declared as such.
pub async fn send_raw(
    router: Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let payload = Payload::Raw {
        content_type,
        bytes: body.as_bytes(),
    };
    read(router, method, path, &[], payload).await
}

/// The whole answer to one request; panics, saying why, when the request
/// cannot be made or its answer cannot be read.
async fn read(
    router: Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
) -> Reply {
    let response = exchange(router, method, path, headers, payload)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let request = format!("{method} {path}");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .map(|bytes| bytes.to_vec())
        .unwrap_or_else(|error| panic!("the body of {request} could not be read: {error}"));
    Reply {
        status,
        headers,
        body,
        request,
    }
}

impl Reply {
    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
    }

    /// The `Location` header, if any.
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics, saying what `what` needed, unless the status is `expected`.
    pub fn expect_status(&self, expected: u16, what: &str) -> &Reply {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "{what}: {} must answer {expected} {}, it answered {} with {:?}",
            self.request,
            StatusCode::from_u16(expected)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or(""),
            self.status,
            self.text()
        );
        self
    }

    /// The body as JSON; panics unless it is declared `application/json`
    /// and parses, since a client decides how to read a body by its
    /// `Content-Type`.
    pub fn json(&self, what: &str) -> Value {
        let declared = self.content_type().unwrap_or("nothing");
        assert!(
            declared.starts_with("application/json"),
            "{what}: {} answered with Content-Type {declared}; a JSON body must be declared \
             `application/json` (axum's `Json(...)` does it), or clients will not read it as JSON",
            self.request
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{what}: the body of {} is not JSON ({error}): {:?}",
                self.request,
                self.text()
            )
        })
    }

    /// Checks an error answer: status `expected`, a JSON body, and an
    /// `error` field with a message for the client; returns that message.
    pub fn expect_error(&self, expected: u16, what: &str) -> String {
        self.expect_status(expected, what);
        let body = self.json(what);
        match body.get("error").and_then(Value::as_str) {
            Some(message) if !message.trim().is_empty() => message.to_owned(),
            _ => panic!(
                "{what}: the {expected} answer of {} must be JSON with an `error` message \
                 saying what went wrong, got {body}",
                self.request
            ),
        }
    }

    /// The answer as a value for a snapshot: status, the headers a client
    /// acts on (`content-type` cut to its media type, since
    /// `application/json; charset=utf-8` is as good as `application/json`,
    /// and `location`), and the body (JSON when it is).
    pub fn snapshot(&self) -> Value {
        let body = serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::from(self.text()));
        let media_type = self
            .content_type()
            .map(|declared| declared.split(';').next().unwrap_or_default().trim());
        serde_json::json!({
            "status": self.status.as_u16(),
            "content-type": media_type,
            "location": self.location(),
            "body": body,
        })
    }
}
