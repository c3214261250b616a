//! Reading requests: JSON bodies, ids in paths, query strings. Each failure
//! becomes the [`ApiError`] a client can act on, never axum's plain-text
//! rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use bson::oid::ObjectId;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::jobs::JobId;

/// The largest body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How long a client has to send a request's body once its headers are
/// in: well within the request's own limit
/// ([`REQUEST_TIMEOUT`](super::REQUEST_TIMEOUT)), so that a client too slow
/// to send it is told 408 (its side) rather than the 503 of a store too
/// slow to answer (the server's).
pub const BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A JSON body read as `T`: 415 without a JSON content type or with a
/// `Content-Encoding` (the API decodes none), 413 when too
/// large, 408 when not sent within [`BODY_WAIT`], 400 when not JSON, 422
/// when the JSON does not fit `T` (the field is named: `address.zip:
/// invalid type: integer, expected a string`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let declared_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !declared_json {
            return Err(ApiError::NotJson);
        }
        // A compressed body read as JSON would be refused as "not JSON", and
        // a plain one declared compressed would be read as if it were not.
        let encoded = request
            .headers()
            .get_all(CONTENT_ENCODING)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            .find(|encoding| !encoding.eq_ignore_ascii_case("identity"));
        if let Some(encoding) = encoded {
            return Err(ApiError::EncodedBody {
                encoding: encoding.chars().take(40).collect(),
            });
        }
        // Refused before reading, so a client that waits for `100 Continue`
        // learns at once instead of sending the body.
        let declared_length = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > BODY_LIMIT as u64) {
            return Err(ApiError::TooLarge { limit: BODY_LIMIT });
        }
        let bytes = read_body(request, state, BODY_WAIT).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The whole body of `request`, if it arrives within `wait`.
async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
    wait: std::time::Duration,
) -> Result<Bytes, ApiError> {
    tokio::time::timeout(wait, Bytes::from_request(request, state))
        .await
        .map_err(|_| ApiError::BodyTimedOut { limit: wait })?
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::BadRequest(format!("the body could not be read: {rejection}"))
            }
        })
}

/// `bytes` as a `T`, with errors as [`JsonBody`] describes.
///
/// Read once as a `T`. Only when that fails is the body read again, as JSON
/// of any shape, to tell the two kinds of failure apart: a body that is not
/// JSON at all is a 400; valid JSON with a value the type refuses
/// (`{"status": null}`, a number too large for its field) is a 422 naming
/// its field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |error: serde_json::Error| {
        ApiError::BadRequest(format!("the body is not valid JSON: {error}"))
    };
    std::str::from_utf8(bytes).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON: it is not UTF-8 text ({error})"
        ))
    })?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => {
            deserializer.end().map_err(malformed)?;
            Ok(value)
        }
        Err(error) => {
            // Syntax only: numbers are not converted, so one too large for
            // its field passes here and is named by the typed error.
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(malformed)?;
            let path = error.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            Err(ApiError::invalid(
                field,
                strip_position(&error.into_inner().to_string()),
            ))
        }
    }
}

/// For `#[serde(deserialize_with)]` on an `Option<Value>` field: the JSON
/// as it is (`null` is `None`), refused when an object in it names a key
/// twice, at any depth. serde_json keeps the last of two keys without a
/// word, so `{"n": 5, "n": 6}` would run with 6 while the client may have
/// meant 5; the fields of the API's own types refuse duplicates already.
pub fn unique_keys<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    let UniqueKeys(value) = serde::Deserialize::deserialize(deserializer)?;
    Ok((!value.is_null()).then_some(value))
}

/// A JSON value whose objects name each key once.
struct UniqueKeys(serde_json::Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_str<E>(self, value: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_string<E>(self, value: String) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(value.into()))
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(serde_json::Value::Null))
    }

    fn visit_none<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(serde_json::Value::Null))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, inner: D) -> Result<UniqueKeys, D::Error> {
        serde::Deserialize::deserialize(inner)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueKeys(items.into()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate field `{key}`: name each parameter once"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(UniqueKeys(object.into()))
    }
}

/// serde's messages end with " at line 1 column 9", which is noise for a
/// field error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The id in a path (`/customers/{id}`), checked: 400 if it is not an
/// ObjectId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdPath(pub ObjectId);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        parse_id(&path_text(parts, state).await?).map(IdPath)
    }
}

/// The one parameter of a path, as text: 400 if the route has none.
async fn path_text<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, ApiError> {
    let axum::extract::Path(value) =
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    Ok(value)
}

/// The `name` header of `headers` (`Host`, `Authorization`), if sent; a 400
/// when it was sent more than once: which one counts would depend on who
/// reads the headers (a proxy may take the last), so none does.
pub fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a HeaderValue>, ApiError> {
    let mut all = headers.get_all(name).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(ApiError::BadRequest(format!(
            "send one {name} header, not several"
        )));
    }
    Ok(first)
}

/// `value` as an ObjectId, or a 400 that says what an id looks like.
pub fn parse_id(value: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse_str(value).map_err(|_| ApiError::MalformedId {
        value: value.chars().take(64).collect(),
    })
}

/// The job id in a path (`/jobs/{id}`), parsed: 400 if it is not one, with
/// the same body as a malformed [`IdPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIdPath(pub JobId);

impl<S: Send + Sync> FromRequestParts<S> for JobIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        parse_job_id(&path_text(parts, state).await?).map(JobIdPath)
    }
}

/// `value` as a [`JobId`], or the 400 of [`parse_id`]: a job id is an
/// ObjectId's hex, so both say the same about what an id looks like.
pub fn parse_job_id(value: &str) -> Result<JobId, ApiError> {
    value.parse().map_err(|_| ApiError::MalformedId {
        value: value.chars().take(64).collect(),
    })
}

/// A query string read as `T`: 400 with the reason when it does not fit.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum State {
        Paid,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Change {
        status: State,
        #[serde(default)]
        count: Option<u32>,
    }

    fn status_of(body: &str) -> u16 {
        match parse_json::<Change>(body.as_bytes()) {
            Ok(_) => 200,
            Err(error) => error.status().as_u16(),
        }
    }

    /// A body that stops arriving is a 408 once its wait has passed.
    #[tokio::test]
    async fn a_body_sent_too_slowly_is_a_408() {
        let stalled = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let request = Request::builder()
            .method("POST")
            .uri("/customers")
            .header(CONTENT_LENGTH, "100")
            .body(axum::body::Body::from_stream(stalled))
            .unwrap();
        let wait = std::time::Duration::from_millis(50);
        let outcome = read_body(request, &(), wait).await;
        assert!(
            matches!(&outcome, Err(ApiError::BodyTimedOut { limit }) if *limit == wait),
            "{outcome:?}"
        );
        assert_eq!(
            outcome.unwrap_err().status(),
            axum::http::StatusCode::REQUEST_TIMEOUT
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Submitted {
        #[serde(default, deserialize_with = "unique_keys")]
        params: Option<serde_json::Value>,
    }

    #[test]
    fn a_key_named_twice_in_free_json_is_refused_at_any_depth() {
        let read = |body: &str| parse_json::<Submitted>(body.as_bytes()).map(|s| s.params);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        assert_eq!(read(r#"{"params": null}"#).unwrap(), None);
        let nested = r#"{"params": {"n": 5, "list": [1, {"a": 1.5, "b": "x"}], "t": true}}"#;
        assert_eq!(
            read(nested).unwrap(),
            Some(serde_json::json!({"n": 5, "list": [1, {"a": 1.5, "b": "x"}], "t": true}))
        );
        for twice in [
            r#"{"params": {"n": 5, "n": 6}}"#,
            r#"{"params": {"deep": [{"a": 1, "a": 1}]}}"#,
        ] {
            let refused = read(twice);
            assert!(
                matches!(&refused, Err(ApiError::Invalid { field, message })
                    if field.starts_with("params") && message.contains("duplicate field")),
                "{twice}: {refused:?}"
            );
        }
    }

    #[test]
    fn json_of_the_wrong_shape_is_a_422_and_text_that_is_not_json_a_400() {
        assert_eq!(status_of(r#"{"status": "paid"}"#), 200);
        for wrong in [
            r#"{"status": null}"#,
            r#"{"status": 5}"#,
            r#"{"status": []}"#,
            r#"{"status": "lost"}"#,
            r#"{"status": "paid", "count": 1e999999}"#,
            r#"{"status": "paid", "count": -1}"#,
        ] {
            assert_eq!(status_of(wrong), 422, "{wrong}");
        }
        for malformed in [
            r#"{"status": "paid""#,
            r#"{"status": "paid"} trailing"#,
            "",
            "{\"status\": \"pa\u{1}id\"}",
        ] {
            assert_eq!(status_of(malformed), 400, "{malformed:?}");
        }
        // Deep nesting is JSON all the same, of the wrong shape here.
        let deep = format!(r#"{{"status": {}{}}}"#, "[".repeat(5000), "]".repeat(5000));
        assert_eq!(status_of(&deep), 422);
        let bad_utf8 = b"{\"status\": \"p\xffid\"}";
        assert!(matches!(
            parse_json::<Change>(bad_utf8),
            Err(ApiError::BadRequest(_))
        ));
    }
}
