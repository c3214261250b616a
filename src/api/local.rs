//! Calling the API's router without a socket, as notebooks do: the router
//! is built for each call, inside the caller's task.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiState, router};

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

/// `method path` with `headers` and, if given, `body` as JSON; a request
/// the router cannot be given (a bad method name, path or header) is
/// answered with 400.
pub async fn call(
    state: &ApiState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return refused(method, path);
    };
    let mut request = Request::builder().method(method.clone()).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let Ok(request) = request.body(body) else {
        return refused(method.as_str(), path);
    };
    let Ok(response) = router(state.clone()).oneshot(request).await;
    let status = response.status().as_u16();
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
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
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
}
