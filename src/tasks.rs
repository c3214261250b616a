//! Work that must finish once begun: two writes that belong together (a
//! customer and its cache invalidation, an invoice and its check) run in a
//! task of their own, so that a caller dropped mid-way (a client that hung
//! up, a request past its deadline) drops only its wait for them.

use std::future::Future;

/// Runs `work` in a task of its own and waits for it. A panic in `work`
/// goes on in the caller; `Err` only when the runtime shut down before
/// `work` ended.
pub async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    match tokio::spawn(work).await {
        Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
        ended => ended,
    }
}
