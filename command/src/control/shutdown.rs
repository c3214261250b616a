//! The signals that end the lab's commands early.

/// Ctrl-C, or the SIGTERM `lab down` sends: what stops `lab serve` and
/// `lab worker` after the work under way.
pub async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Ctrl-C, which interrupts `lab up` (or a failure to listen for it, which
/// ends the wait as well).
pub async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}
