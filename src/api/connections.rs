//! Serving a router over a TCP listener: one hyper connection per socket,
//! with a deadline for each request's headers and a graceful end.
//!
//! `axum::serve` gives hyper no timer, and without one hyper enforces no
//! header deadline: a client that opens a connection and sends its headers
//! a byte at a time, or never finishes them, holds the connection (and its
//! task) for as long as it likes, and a few thousand such clients hold the
//! server. Here hyper has tokio's timer, and an HTTP/1 connection that has
//! not sent a request's headers within [`HEADER_READ_TIMEOUT`] is closed,
//! idle keep-alive connections and ones that send nothing at all included.
//! Handlers' own time is limited by [`super::ops::deadline`]. hyper's read
//! buffer is sized so that requests over the API's limits on targets and
//! headers reach the API, which refuses them in JSON ([`super::limits`]).
//!
//! It speaks HTTP/1.1 only. hyper's HTTP/2 has no header deadline, refuses
//! large headers with a bare 431 before the API sees them, and lets a peer
//! that answers its pings hold a connection for ever; the lab's clients
//! (curl, browsers, the notebooks, the benchmarks) speak HTTP/1.1.

use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a connection may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the connections under way to finish their
/// requests.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_deadline(listener, router, shutdown, HEADER_READ_TIMEOUT).await
}

async fn serve_with_deadline(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_deadline: Duration,
) -> std::io::Result<()> {
    // HTTP/1.1 only: see the module's documentation.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_deadline)
        // A client may close its side once the request is sent (`nc -N`,
        // some proxies) and still wait for the answer. The price: a client
        // that leaves mid-request is noticed only when its answer is
        // written, so its handler runs on until then, within the request's
        // deadline (a `?wait=` up to its end).
        .half_close(true)
        .max_buf_size(super::limits::READ_BUFFER);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    wait_after(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|request: hyper::Request<Incoming>| request.map(Body::new)),
        );
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After a failed `accept`: nothing when only that one connection failed
/// (the client gave up); otherwise (out of file descriptors, say) a pause,
/// so that the loop does not spin, and a warning.
async fn wait_after(error: &std::io::Error) {
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn started(
        deadline: Duration,
    ) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/", axum::routing::get(|| async { "hello" }))
            .layer(axum::middleware::from_fn(super::super::limits::check));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_with_deadline(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            deadline,
        ));
        (address, stop)
    }

    /// Headers that never end do not hold the connection: it is closed
    /// once the deadline passes. A whole request is answered.
    #[tokio::test]
    async fn unfinished_headers_are_cut_off_and_whole_requests_answered() {
        let (address, _stop) = started(Duration::from_millis(200)).await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let ended =
            tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
        assert!(
            ended.is_ok(),
            "the connection must be closed once the header deadline passed"
        );
        assert!(
            !String::from_utf8_lossy(&answer).contains("200 OK"),
            "{answer:?}"
        );

        let mut whole = TcpStream::connect(address).await.unwrap();
        whole
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        whole.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }

    /// Everything the server at `address` answers to `request`.
    async fn exchange(address: std::net::SocketAddr, request: &[u8]) -> String {
        let mut connection = TcpStream::connect(address).await.unwrap();
        connection.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        connection.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// A client that closes its side after a whole request still gets the
    /// answer.
    #[tokio::test]
    async fn a_request_followed_by_a_half_close_is_answered() {
        let (address, _stop) = started(Duration::from_secs(5)).await;
        let mut connection = TcpStream::connect(address).await.unwrap();
        connection
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        connection.shutdown().await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            connection.read_to_string(&mut answer),
        )
        .await
        .expect("the answer comes, and the connection then ends")
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// A connection that never sends a byte is closed at the deadline too.
    #[tokio::test]
    async fn a_silent_connection_is_closed_at_the_deadline() {
        let (address, _stop) = started(Duration::from_millis(200)).await;
        let mut silent = TcpStream::connect(address).await.unwrap();
        let mut answer = Vec::new();
        let ended =
            tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut answer)).await;
        assert!(
            ended.is_ok(),
            "a connection that sends nothing must be closed once the deadline passed"
        );
        assert!(answer.is_empty(), "{answer:?}");
    }

    /// An HTTP/2 client is not served: its connection ends at once.
    #[tokio::test]
    async fn http2_is_not_spoken() {
        let (address, _stop) = started(Duration::from_secs(5)).await;
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            exchange(address, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        )
        .await
        .expect("the connection must end before the header deadline");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer:?}"
        );
    }

    /// A target or headers over the API's limits, but within hyper's
    /// buffer, are refused with a JSON body that names the limit, not
    /// with hyper's bare status line.
    #[tokio::test]
    async fn a_long_target_or_large_headers_get_a_json_refusal() {
        use crate::api::limits::{MAX_HEADER_BYTES, MAX_TARGET, READ_BUFFER};

        let (address, _stop) = started(Duration::from_secs(5)).await;
        let long_target = format!(
            "GET /?q={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "a".repeat(MAX_TARGET)
        );
        let answer = exchange(address, long_target.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
        assert!(
            answer.ends_with(&format!(
                "{{\"error\":\"the path and query are longer than {MAX_TARGET} bytes\"}}"
            )),
            "{answer}"
        );

        // Several headers, together over the limit and under the buffer.
        let value = "b".repeat(4 * 1024);
        let headers: String = (0..MAX_HEADER_BYTES / value.len() + 1)
            .map(|n| format!("X-Filler-{n}: {value}\r\n"))
            .collect();
        assert!(headers.len() < READ_BUFFER - 1024);
        let large_headers =
            format!("GET / HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n");
        let answer = exchange(address, large_headers.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        assert!(
            answer.ends_with(&format!(
                "{{\"error\":\"the headers take more than {MAX_HEADER_BYTES} bytes\"}}"
            )),
            "{answer}"
        );

        let within = format!(
            "GET /?q={} HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(MAX_TARGET - 10),
            "b".repeat(MAX_HEADER_BYTES / 2)
        );
        let answer = exchange(address, within.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
