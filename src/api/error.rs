//! Every way a request can fail, and the status code and JSON body of each.
//!
//! Handlers return `Result<_, ApiError>`; nothing a client sends can produce
//! a 500 or a panic (the one 500 is a stored document that breaks the rules,
//! which this API never writes). Bodies are `{"error": "..."}`, with a message that says
//! what was wrong and, where it helps, what would have been accepted.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::analysis::AnalysisError;
use crate::billing::BillingError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: an id in the path that is not an ObjectId.
    #[error("{value:?} is not a valid id: ids are 24 hexadecimal digits")]
    MalformedId {
        /// What was given.
        value: String,
    },
    /// 400: a body that is not JSON, or a query string that does not parse.
    #[error("{0}")]
    BadRequest(String),
    /// 401: a write without the lab's API key, or with another key.
    #[error(
        "{}",
        if *key_given {
            "this is not the lab's API key; `cargo lab env` prints the right one as LAB_API_KEY"
        } else {
            "writes need the lab's API key: send `Authorization: Bearer <key>`; `eval \"$(cargo lab env)\"` puts the key in LAB_API_KEY"
        }
    )]
    Unauthorized {
        /// Whether an `Authorization` header was sent at all.
        key_given: bool,
    },
    /// 421: a request naming a host the API does not answer to.
    #[error(
        "this API answers to localhost, 127.0.0.1 and [::1] (and the names in LAB_API_HOSTS), not to {host:?}"
    )]
    WrongHost {
        /// The `Host` the request named (empty when it named none).
        host: String,
    },
    /// 404: no such resource. The message is the whole error text, as in
    /// the course notes' `{"error": "Customer not found"}`.
    #[error("{0}")]
    NotFound(&'static str),
    /// 404: no such route.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// The method asked for.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// 405: the route exists, not with this method.
    #[error("this route does not take {method}")]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
    },
    /// 409: the request contradicts what is stored.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the API accepts.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 414: a path and query longer than the API answers
    /// ([`super::limits`]).
    #[error("the path and query are longer than {limit} bytes")]
    TargetTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: a body that is not declared as JSON.
    #[error("send the body as JSON, with the header Content-Type: application/json")]
    NotJson,
    /// 415: a body declared compressed or otherwise encoded.
    #[error(
        "send the body as plain JSON, without Content-Encoding (it was declared {encoding:?}, which the API does not decode)"
    )]
    EncodedBody {
        /// The declared encoding (its first 40 characters).
        encoding: String,
    },
    /// 431: more bytes of headers than the API answers
    /// ([`super::limits`]).
    #[error("the headers take more than {limit} bytes")]
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 422: well-formed JSON whose content breaks a rule.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault, as named in the body (`address.zip`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// 503: Redis, which holds the job queue, could not be reached.
    #[error("the job queue is unavailable; try again shortly")]
    QueueUnavailable {
        /// The driver's error, for the log (not sent to the client).
        detail: String,
    },
    /// 503: a store did not confirm a write that may still have been made
    /// (the answer was lost, not the request refused): the client is told
    /// where the new resource would be, to look before sending it again.
    #[error(
        "{store} did not confirm the write; it may still have been made: look at GET {location} before sending the request again"
    )]
    WriteUncertain {
        /// The store: "the database" or "the job queue".
        store: &'static str,
        /// Where the resource is if the write was made.
        location: String,
        /// The driver's error, for the log (not sent to the client).
        detail: String,
    },
    /// 408: the client did not send the request's body in time.
    #[error(
        "the request's body did not arrive within {limit:?} of its headers and was given up; send the whole body at once and try again"
    )]
    BodyTimedOut {
        /// How long the body was waited for.
        limit: std::time::Duration,
    },
    /// 503: the request was not answered within its time limit (a store
    /// that stopped answering mid-request).
    #[error(
        "the request took longer than {limit:?} and was given up; a database may be slow or down, try again shortly{}",
        if *writes { " (a write may still have been made: check before sending it again)" } else { "" }
    )]
    TimedOut {
        /// The limit.
        limit: std::time::Duration,
        /// Whether the request could write (any method but GET and HEAD),
        /// so that its work may have been done before it was given up.
        writes: bool,
    },
    /// 503: MongoDB could not be reached or did not answer in time.
    #[error("the database is unavailable; try again shortly")]
    Unavailable {
        /// The driver's error, for the log (not sent to the client).
        detail: String,
    },
    /// 500: a stored document breaks the billing rules (written by another
    /// program, or before a rule was added), so it cannot be served. Asking
    /// again does not help; the log names the document.
    #[error(
        "a stored document breaks the billing rules and cannot be served{}; the API's log names it, to fix or remove in MongoDB",
        if *written { " (the change asked for was made)" } else { "" }
    )]
    StoredInvalid {
        /// Which document broke which rule, for the log (not sent to the
        /// client).
        detail: String,
        /// Whether the request's change was made before the document was
        /// read back.
        written: bool,
    },
}

impl ApiError {
    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedId { .. } | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::WrongHost { .. } => StatusCode::MISDIRECTED_REQUEST,
            ApiError::NotFound(_) | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BodyTimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TargetTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::NotJson | ApiError::EncodedBody { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable { .. }
            | ApiError::QueueUnavailable { .. }
            | ApiError::WriteUncertain { .. }
            | ApiError::TimedOut { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StoredInvalid { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error of a MongoDB read or write that failed, `detail` saying
    /// what happened for the log (the document's id among it):
    /// [`ApiError::StoredInvalid`] when what failed was reading a stored
    /// document back, else [`ApiError::Unavailable`].
    pub fn from_database(
        error: &mongodb::error::Error,
        detail: impl std::fmt::Display,
    ) -> ApiError {
        if stored_invalid(error) {
            ApiError::StoredInvalid {
                detail: detail.to_string(),
                written: false,
            }
        } else {
            ApiError::Unavailable {
                detail: detail.to_string(),
            }
        }
    }

    /// The error of a MongoDB write that would make the resource at
    /// `location`: [`ApiError::WriteUncertain`] when its answer was lost
    /// (the write may have been made), else a plain 503.
    pub fn from_write(error: mongodb::error::Error, location: String) -> ApiError {
        if crate::services::answer_lost(&error) {
            ApiError::WriteUncertain {
                store: "the database",
                location,
                detail: error.to_string(),
            }
        } else {
            error.into()
        }
    }

    /// A 422 for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(error: BillingError) -> ApiError {
        match error {
            BillingError::InvalidField { field, message } => ApiError::invalid(field, message),
            BillingError::Inconsistent { field, .. } => ApiError::invalid(field, error.to_string()),
            BillingError::UnknownStatus { .. } => ApiError::invalid("status", error.to_string()),
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    /// A database failure the client cannot fix: 503, or 500 for a stored
    /// document that breaks the rules ([`ApiError::from_database`], which
    /// handlers call instead when they can name the document). Errors a
    /// client can cause, such as a duplicate email, are told apart before
    /// this.
    fn from(error: mongodb::error::Error) -> ApiError {
        ApiError::from_database(&error, &error)
    }
}

/// Whether `error` is a stored document that could not be read back as its
/// type (a rule of [`crate::billing`] broken, a field missing): not an
/// outage, and asking again gives the same answer.
pub fn stored_invalid(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        mongodb::error::ErrorKind::Bson(bson_error)
            if matches!(bson_error.kind, bson::error::ErrorKind::Deserialization { .. })
    )
}

impl From<redis::RedisError> for ApiError {
    /// Redis failing under the job API: 503.
    fn from(error: redis::RedisError) -> ApiError {
        ApiError::QueueUnavailable {
            detail: error.to_string(),
        }
    }
}

impl From<AnalysisError> for ApiError {
    fn from(error: AnalysisError) -> ApiError {
        match error {
            AnalysisError::InvalidParameter { parameter, message } => {
                ApiError::invalid(parameter, message)
            }
            AnalysisError::Database { source, .. } => source.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Unavailable { detail } => tracing::warn!(%detail, "database unavailable"),
            ApiError::StoredInvalid { detail, .. } => {
                tracing::error!(%detail, "a stored document breaks the billing rules")
            }
            ApiError::QueueUnavailable { detail } => tracing::warn!(%detail, "Redis unavailable"),
            ApiError::WriteUncertain {
                store,
                location,
                detail,
            } => tracing::warn!(%detail, %location, "{store} did not confirm a write"),
            _ => {}
        }
        let body = match &self {
            ApiError::Invalid { field, message } => {
                serde_json::json!({ "error": self.to_string(), "field": field, "message": message })
            }
            ApiError::WriteUncertain { location, .. } => {
                serde_json::json!({ "error": self.to_string(), "location": location })
            }
            _ => serde_json::json!({ "error": self.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        // RFC 9110: a 415 for an encoding says which encodings are taken.
        if matches!(self, ApiError::EncodedBody { .. }) {
            response.headers_mut().insert(
                axum::http::header::ACCEPT_ENCODING,
                axum::http::HeaderValue::from_static("identity"),
            );
        }
        if matches!(self, ApiError::Unauthorized { .. }) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"lab\""),
            );
        }
        response
    }
}

/// Whether `error` is MongoDB refusing a duplicate key (a second customer
/// with an email already used): a write error from an insert, a command
/// error from `findAndModify`.
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    const DUPLICATE_KEY: i32 = 11000;
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        _ => false,
    }
}
