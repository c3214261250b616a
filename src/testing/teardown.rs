//! Teardown from `Drop`, which cannot await.

/// Runs `work` to completion on a runtime of its own, on a thread of its own.
///
/// Teardown happens in `Drop`, which cannot await, and may run inside the
/// test's runtime, which must not be blocked waiting on itself; a separate
/// thread with a separate runtime and its own connections avoids both.
pub(super) fn block_on_side_thread<F>(work: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let handle = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            // The timer must be made inside the runtime, so inside `block_on`.
            runtime.block_on(async {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), work()).await;
            });
        }
    });
    let _ = handle.join();
}
