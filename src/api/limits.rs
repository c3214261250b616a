//! How long a request's target and how large its headers may be, refused
//! with the API's JSON error.
//!
//! hyper refuses a request whose head does not fit in its read buffer with
//! a bare 431 (or 414 for the target) and no body. The API gives hyper a
//! buffer ([`READ_BUFFER`]) larger than its own limits ([`MAX_TARGET`],
//! [`MAX_HEADER_BYTES`]), so a request over them still reaches [`check`]
//! and is told, in JSON, which limit it broke. Only a head larger than the
//! buffer itself, or one with more than hyper's hundred headers, gets
//! hyper's bare answer. The buffer also bounds what a connection holds
//! before the API sees a request (hyper's default is about 400 KB).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The longest request target (path and query) the API answers, in bytes.
pub const MAX_TARGET: usize = 8 * 1024;

/// The most bytes of headers, names and values with their separators, the
/// API answers.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// hyper's read buffer per connection: room for a request line and headers
/// just over both limits, so that such a request is refused by [`check`].
pub const READ_BUFFER: usize = 64 * 1024;

/// Refuses a request whose target is longer than [`MAX_TARGET`] (414) or
/// whose headers take more than [`MAX_HEADER_BYTES`] (431).
pub async fn check(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_TARGET {
        return ApiError::TargetTooLong { limit: MAX_TARGET }.into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        // `name: value` and the line's end.
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        }
        .into_response();
    }
    next.run(request).await
}
