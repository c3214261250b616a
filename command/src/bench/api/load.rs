//! The in-process load generators: HTTP/1.1 GETs over keep-alive
//! connections, and Redis GETs, one request at a time on each connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Phase;
use crate::bench::failed;
use crate::control::LabError;

/// Why the in-process HTTP load could not be measured.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// The connection to the API failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The API answered with another status than 200.
    #[error("GET {path} answered `{status}`")]
    Status {
        /// The path asked for.
        path: String,
        /// The status line.
        status: String,
    },
    /// The API's `Content-Length` is not a number.
    #[error("the API's Content-Length {value:?} is not a number")]
    Length {
        /// The header's value.
        value: String,
    },
    /// A connection's task panicked or was cancelled.
    #[error("a load connection stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// Sends `paths` as GETs over `concurrency` keep-alive connections, each
/// taking the next path when its previous answer is in. Returns every
/// latency, the wall time, and whether every answer came from the cache.
pub(super) async fn http_load(
    port: u16,
    concurrency: usize,
    paths: Vec<String>,
) -> Result<(Vec<Duration>, Duration, bool), LoadError> {
    let queue = Arc::new(std::sync::Mutex::new(paths.into_iter()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let mut stream = BufReader::new(stream);
            let mut latencies = Vec::new();
            let mut all_cache = true;
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some(path) = next else { break };
                let sent = Instant::now();
                let body = get(&mut stream, &path).await?;
                latencies.push(sent.elapsed());
                all_cache &= body.starts_with(b"{\"source\":\"cache\"");
            }
            Ok::<_, LoadError>((latencies, all_cache))
        }));
    }
    let mut latencies = Vec::new();
    let mut all_cache = true;
    for worker in workers {
        let (mine, cache) = worker.await??;
        latencies.extend(mine);
        all_cache &= cache;
    }
    Ok((latencies, started.elapsed(), all_cache))
}

/// One HTTP/1.1 GET on a kept-alive connection; the body of a 200.
pub(super) async fn get(
    stream: &mut BufReader<TcpStream>,
    path: &str,
) -> Result<Vec<u8>, LoadError> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(LoadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.starts_with("HTTP/1.1 200") {
        return Err(LoadError::Status {
            path: path.to_owned(),
            status: line.trim().to_owned(),
        });
    }
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        let header = line.trim();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            let value = value.trim();
            length = value.parse().map_err(|_| LoadError::Length {
                value: value.to_owned(),
            })?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// `GET key` for each of `keys`, over `concurrency` connections of their
/// own, one command at a time on each (as the API's requests are).
pub(super) async fn redis_load(
    url: &str,
    concurrency: usize,
    keys: Vec<String>,
) -> Result<Phase, LabError> {
    let queue = Arc::new(std::sync::Mutex::new(keys.into_iter()));
    let client = redis::Client::open(url).map_err(failed("talking to the benchmark's Redis"))?;
    let mut connections = Vec::new();
    for _ in 0..concurrency {
        connections.push(
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(failed("talking to the benchmark's Redis"))?,
        );
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut connection in connections {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some(key) = next else { break };
                let sent = Instant::now();
                let _: Option<String> = connection.get(&key).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, redis::RedisError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        let mine = worker
            .await
            .map_err(|source| LabError::Stopped {
                what: "a Redis load connection",
                source,
            })?
            .map_err(failed("talking to the benchmark's Redis"))?;
        latencies.extend(mine);
    }
    Ok(Phase::of(latencies, started.elapsed()))
}
