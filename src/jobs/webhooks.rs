//! Webhooks: a job submitted with a webhook URL has it called (`POST`, a
//! JSON summary of the job) once the job is over. Delivery is itself a
//! small job: the finishing script puts the job on the `webhooks` schedule;
//! a deliverer claims it with a lease, posts, and records the answer.
//! Anything but a 2xx is retried with backoff, up to [`MAX_DELIVERIES`]
//! attempts, then abandoned; every attempt is an event on the job.
//!
//! The lab calls plain `http://` URLs only (it makes no TLS connections):
//! the receivers are the student's own services.

use std::time::Duration;

use redis::RedisResult;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::queue::JobQueue;

/// Attempts before a delivery is abandoned.
pub const MAX_DELIVERIES: u32 = 8;
/// How long one delivery attempt may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The first retry's delay; each one doubles, up to [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// See [`RETRY_BASE`].
pub const RETRY_CAP: Duration = Duration::from_secs(300);
/// The longest URL accepted.
pub const MAX_URL: usize = 2048;

/// A checked webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    host: String,
    port: u16,
    path: String,
}

impl WebhookUrl {
    /// `url` if it is `http://host[:port][/path]`; otherwise a message
    /// saying what is wrong.
    pub fn parse(url: &str) -> Result<WebhookUrl, String> {
        if url.len() > MAX_URL {
            return Err(format!("the URL is longer than {MAX_URL} characters"));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "{url:?} is not an http:// URL (the lab makes no TLS connections)"
            ));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if path
            .bytes()
            .any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control())
        {
            return Err(format!(
                "{url:?} has spaces or control characters in its path"
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) if port > 0 => (host, port),
                _ => return Err(format!("{port:?} in {url:?} is not a port number")),
            },
            None => (authority, 80),
        };
        let valid_host = !host.is_empty()
            && host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-');
        if !valid_host {
            return Err(format!(
                "{url:?} has no host name such as 127.0.0.1 or localhost"
            ));
        }
        Ok(WebhookUrl {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// Posts `body` (JSON) and returns the response's status code.
    pub async fn post(&self, body: &str) -> std::io::Result<u16> {
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nUser-Agent: lab-webhooks\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        let exchange = async {
            let mut stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut head = Vec::new();
            let mut buffer = [0u8; 512];
            while !head.windows(2).any(|pair| pair == b"\r\n") && head.len() < 8192 {
                let read = stream.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                head.extend_from_slice(&buffer[..read]);
            }
            status_of(&head)
        };
        tokio::time::timeout(DELIVERY_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {DELIVERY_TIMEOUT:?}"),
                )
            })?
    }
}

/// The status code of an HTTP/1.x status line at the start of `head`.
fn status_of(head: &[u8]) -> std::io::Result<u16> {
    let line = head.split(|&byte| byte == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split(' ');
    match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/1.") => Ok(status),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {line:?}"),
        )),
    }
}

/// One webhook call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job.
    pub id: String,
    /// Where to.
    pub url: String,
    /// Which attempt, from 1.
    pub attempt: u32,
}

impl JobQueue {
    /// Claims the webhook delivery due longest, held for `lease`.
    pub async fn claim_delivery(&self, lease: Duration) -> RedisResult<Option<Delivery>> {
        let mut redis = self.connection();
        let claimed: Option<(String, String, u32)> = self
            .run_script(&super::queue::compiled::WEBHOOK_CLAIM)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(claimed.map(|(id, url, attempt)| Delivery { id, url, attempt }))
    }

    /// Records how `delivery` went: delivered, or due again after `retry`
    /// (`None`: abandoned); `note` says what the receiver answered.
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        delivered: bool,
        retry: Option<Duration>,
        note: &str,
    ) -> RedisResult<()> {
        let mut redis = self.connection();
        let _: i64 = self
            .run_script(&super::queue::compiled::WEBHOOK_RESULT)
            .arg(&delivery.id)
            .arg(if delivered { "1" } else { "0" })
            .arg(retry.map_or(0, |retry| retry.as_millis().max(1) as u64))
            .arg(note)
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }
}

/// Makes one due delivery, if there is one; `false` when none was due.
pub async fn deliver_one(queue: &JobQueue) -> RedisResult<bool> {
    let Some(delivery) = queue.claim_delivery(DELIVERY_TIMEOUT * 2).await? else {
        return Ok(false);
    };
    let Some(job) = queue.get(&delivery.id).await? else {
        queue
            .record_delivery(&delivery, false, None, "the job has expired")
            .await?;
        return Ok(true);
    };
    let body = serde_json::json!({
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "error": job.error,
        "attempts": job.attempts,
        "job": format!("/jobs/{}", job.id),
        "result": format!("/jobs/{}/result", job.id),
    })
    .to_string();
    let answer = match WebhookUrl::parse(&delivery.url) {
        Ok(url) => url.post(&body).await.map_err(|error| error.to_string()),
        Err(message) => Err(message),
    };
    let retry = (delivery.attempt < MAX_DELIVERIES)
        .then(|| super::backoff(delivery.attempt, RETRY_BASE, RETRY_CAP));
    match answer {
        Ok(status) if (200..300).contains(&status) => {
            queue
                .record_delivery(&delivery, true, None, &format!("HTTP {status}"))
                .await?
        }
        Ok(status) => {
            queue
                .record_delivery(&delivery, false, retry, &format!("HTTP {status}"))
                .await?
        }
        Err(message) => {
            queue
                .record_delivery(&delivery, false, retry, &message)
                .await?
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_checked() {
        let url = WebhookUrl::parse("http://127.0.0.1:9000/hooks/jobs?x=1").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("127.0.0.1", 9000, "/hooks/jobs?x=1")
        );
        let url = WebhookUrl::parse("http://localhost").unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        for (bad, says) in [
            ("https://example.com/", "not an http:// URL"),
            ("ftp://x/", "not an http:// URL"),
            ("http://:80/", "no host name"),
            ("http://host:99999/", "not a port number"),
            ("http://ho st/", "no host name"),
            ("http://host/a b", "spaces"),
        ] {
            let message = WebhookUrl::parse(bad).unwrap_err();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status_of(b"HTTP/1.1 204 No Content\r\n").unwrap(), 204);
        assert!(status_of(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
