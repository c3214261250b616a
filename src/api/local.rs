//! Calling a router without a socket. [`exchange`] is the one place that
//! builds a request, hands it to a router with `tower`'s `oneshot` and reads
//! the whole answer: [`call`] (the notebooks' form, on the billing API, where
//! a request that cannot be made is a JSON 400), `lab::testing::http` (the
//! graded tests' form, which panics instead) and the API's own tests go
//! through it. The router is built for each call, inside the caller's task.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, Response, header};
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiState, router};

/// The body of a request.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// No body.
    Empty,
    /// This value as JSON text, declared `application/json`.
    Json(&'a Value),
    /// These bytes as they are, declared `content_type` when given (a body
    /// that is not JSON, or JSON not declared as such).
    Raw {
        /// The `Content-Type` header, if any.
        content_type: Option<&'a str>,
        /// The body.
        bytes: &'a [u8],
    },
}

/// A request that cannot be given to a router.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The method is not an HTTP method name.
    #[error("{0:?} is not an HTTP method")]
    Method(String),
    /// The path or a header cannot be part of a request.
    #[error("cannot build {method} {path}: {reason}")]
    Build {
        /// The method asked for.
        method: String,
        /// The path asked for.
        path: String,
        /// What `http` found wrong.
        reason: axum::http::Error,
    },
}

/// A router's answer, its body read whole (an event stream's once it has
/// ended), or the error that stopped the reading.
pub type Exchanged = Response<Result<Bytes, axum::Error>>;

/// Sends `method path` with `headers` and `payload` to `router`, without a
/// socket, and reads the whole answer.
pub async fn exchange(
    router: Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
) -> Result<Exchanged, RequestError> {
    let parsed = Method::from_bytes(method.as_bytes())
        .map_err(|_| RequestError::Method(method.to_owned()))?;
    let mut request = Request::builder().method(parsed).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match payload {
        Payload::Empty => Body::empty(),
        Payload::Json(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        Payload::Raw {
            content_type,
            bytes,
        } => {
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            Body::from(bytes.to_vec())
        }
    };
    let request = request.body(body).map_err(|reason| RequestError::Build {
        method: method.to_owned(),
        path: path.to_owned(),
        reason,
    })?;
    let Ok(response) = router.oneshot(request).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await;
    Ok(Response::from_parts(parts, body))
}

/// An answer: status, headers, body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text (an event stream's whole text once it has ended).
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

fn refused(method: &str, path: &str) -> Answer {
    Answer {
        status: 400,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: serde_json::json!({ "error": format!("cannot make a request of {method} {path}") })
            .to_string(),
    }
}

/// `method path` with `headers` and, if given, `body` as JSON, answered by
/// the billing API over `state`; a request the router cannot be given (a
/// bad method name, path or header) is answered with 400.
pub async fn call(
    state: &ApiState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let payload = body.map_or(Payload::Empty, Payload::Json);
    let Ok(response) = exchange(router(state.clone()), method, path, headers, payload).await else {
        return refused(method, path);
    };
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: String::from_utf8_lossy(&response.into_body().unwrap_or_default()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_cannot_be_made_is_a_json_400() {
        let answer = refused("GE T", "/jobs");
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.json()["error"],
            "cannot make a request of GE T /jobs"
        );
        assert_eq!(answer.header("content-type"), Some("application/json"));
    }

    fn echo() -> Router {
        Router::new().route(
            "/echo",
            axum::routing::any(|request: Request<Body>| async move {
                let content_type = request
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|value| value.to_str().unwrap_or_default().to_owned());
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                format!("{content_type:?} {}", String::from_utf8_lossy(&body))
            }),
        )
    }

    #[tokio::test]
    async fn a_json_payload_is_declared_as_json_and_a_raw_one_as_given() {
        let value = serde_json::json!({"name": "Mug"});
        let json = exchange(echo(), "POST", "/echo", &[], Payload::Json(&value))
            .await
            .unwrap();
        assert_eq!(
            json.into_body().unwrap(),
            r#"Some("application/json") {"name":"Mug"}"#
        );
        let raw = Payload::Raw {
            content_type: None,
            bytes: b"{\"name\": 1}",
        };
        let raw = exchange(echo(), "POST", "/echo", &[], raw).await.unwrap();
        assert_eq!(raw.into_body().unwrap(), r#"None {"name": 1}"#);
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_made_is_an_error_that_says_why() {
        let method = exchange(echo(), "GE T", "/echo", &[], Payload::Empty).await;
        assert_eq!(
            method.unwrap_err().to_string(),
            r#""GE T" is not an HTTP method"#
        );
        let header = exchange(echo(), "GET", "/echo", &[("x", "a\nb")], Payload::Empty).await;
        assert!(
            header
                .unwrap_err()
                .to_string()
                .starts_with("cannot build GET /echo: ")
        );
    }
}
