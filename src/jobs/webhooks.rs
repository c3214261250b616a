//! Webhooks: a job submitted with a webhook URL has it called (`POST`, a
//! JSON summary of the job) once the job is over. Delivery is itself a
//! small job: the finishing script puts the job on the `webhooks` schedule;
//! a deliverer claims it with a lease, posts, and records the answer.
//! Anything but a 2xx is retried with backoff, up to [`MAX_DELIVERIES`]
//! attempts, then abandoned; every attempt is an event on the job.
//!
//! The lab calls plain `http://` URLs only (it makes no TLS connections).
//!
//! A webhook is a request the lab makes on a stranger's behalf, so it must
//! not become a way into what only the lab can reach (server-side request
//! forgery): the host is resolved, every address that is loopback, private,
//! link-local, shared, multicast or otherwise not on the public internet is
//! refused, and the connection goes to the address that was checked, so a
//! second DNS answer cannot switch it. Local receivers (a lesson's, a
//! test's) are let through only as `host:port` pairs named in
//! `LAB_WEBHOOK_ALLOW` ([`WebhookPolicy`]), which never opens Redis, MongoDB
//! or the API unless their port is named. Redirects are not followed, an
//! attempt is bounded in time ([`DELIVERY_TIMEOUT`]) and only the status
//! line of the answer is read (at most 8 KiB).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use redis::{AsyncCommands, RedisResult};
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

    /// The host as written in the URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Posts `body` (JSON) to `address` (one [`WebhookPolicy::resolve`]
    /// allowed) and returns the response's status code.
    pub async fn post(&self, address: SocketAddr, body: &str) -> std::io::Result<u16> {
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nUser-Agent: lab-webhooks\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        let exchange = async {
            let mut stream = TcpStream::connect(address).await?;
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

/// Where webhooks may be delivered: public addresses, and the local
/// receivers named in the allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    allow: Vec<(String, u16)>,
}

impl WebhookPolicy {
    /// A policy allowing, besides public addresses, each `host:port` of
    /// `entries` (`127.0.0.1:9000`, `localhost:8080`); a message naming the
    /// first entry that is not one.
    pub fn allowing<S: AsRef<str>>(entries: &[S]) -> Result<WebhookPolicy, String> {
        let mut allow = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let parsed = entry
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                .filter(|(host, port)| !host.is_empty() && *port > 0);
            match parsed {
                Some((host, port)) => allow.push((host.to_ascii_lowercase(), port)),
                None => {
                    return Err(format!(
                        "{entry:?} in LAB_WEBHOOK_ALLOW is not host:port, such as 127.0.0.1:9000"
                    ));
                }
            }
        }
        Ok(WebhookPolicy { allow })
    }

    /// The policy of `config`: its `LAB_WEBHOOK_ALLOW` receivers (checked
    /// when the configuration was read).
    pub fn from_config(config: &crate::config::Config) -> WebhookPolicy {
        WebhookPolicy::allowing(&config.webhook_allow).unwrap_or_default()
    }

    /// Whether `url` names an allowed local receiver.
    fn allows(&self, url: &WebhookUrl) -> bool {
        self.allow
            .iter()
            .any(|(host, port)| host.eq_ignore_ascii_case(&url.host) && *port == url.port)
    }

    /// The refusal of a URL whose host is written as an address the lab
    /// must not call, checked when the job is submitted; names are checked
    /// when they are resolved, at delivery.
    pub fn check(&self, url: &WebhookUrl) -> Result<(), String> {
        match url.host.parse::<IpAddr>() {
            Ok(ip) if !self.allows(url) && !is_public(ip) => Err(refusal(url, ip)),
            _ if url.host.eq_ignore_ascii_case("localhost") && !self.allows(url) => {
                Err(refusal(url, IpAddr::from([127, 0, 0, 1])))
            }
            _ => Ok(()),
        }
    }

    /// The address to deliver `url` to: its host resolved, the first
    /// address that is public, or any address when the URL is an allowed
    /// local receiver; an error of kind `PermissionDenied` when every
    /// address is refused.
    pub async fn resolve(&self, url: &WebhookUrl) -> std::io::Result<SocketAddr> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((url.host.as_str(), url.port))
            .await?
            .collect();
        let allowed = self.allows(url);
        if let Some(address) = addresses
            .iter()
            .find(|address| allowed || is_public(address.ip()))
        {
            return Ok(*address);
        }
        let refused = addresses
            .first()
            .map_or(IpAddr::from([0, 0, 0, 0]), SocketAddr::ip);
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            refusal(url, refused),
        ))
    }
}

fn refusal(url: &WebhookUrl, ip: IpAddr) -> String {
    format!(
        "refused: {} is {ip}, an address the lab does not call on anyone's behalf (loopback, \
         private, link-local or not routable); to let a local receiver through, add \
         \"{}:{}\" to LAB_WEBHOOK_ALLOW",
        url.host, url.host, url.port
    )
}

/// Whether `ip` is an address on the public internet: not loopback,
/// private, shared (carrier-grade NAT), link-local, multicast, broadcast,
/// documentation, unspecified or reserved, and not an IPv6 form of one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
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
    /// Claims the webhook delivery due longest on the first shard that has
    /// one, held for `lease`.
    pub async fn claim_delivery(&self, lease: Duration) -> RedisResult<Option<Delivery>> {
        let mut redis = self.connection();
        for shard in self.keys().shards() {
            let candidates: Vec<String> = redis.zrange(shard.webhooks(), 0, 7).await?;
            if candidates.is_empty() {
                continue;
            }
            let ids: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let claimed: Option<(String, String, u32)> = self
                .on_shard(&super::queue::compiled::WEBHOOK_CLAIM, shard, &ids, None)
                .arg(lease.as_millis().max(1) as u64)
                .invoke_async(&mut redis)
                .await?;
            if let Some((id, url, attempt)) = claimed {
                return Ok(Some(Delivery { id, url, attempt }));
            }
        }
        Ok(None)
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
            .on_job(&super::queue::compiled::WEBHOOK_RESULT, &delivery.id)
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
    let mut refused = false;
    let answer = match WebhookUrl::parse(&delivery.url) {
        Ok(url) => {
            let policy = queue.webhook_policy();
            match policy.resolve(&url).await {
                Ok(address) => url.post(address, &body).await.map_err(|e| e.to_string()),
                Err(error) => {
                    // A refused address stays refused: no retry.
                    refused = error.kind() == std::io::ErrorKind::PermissionDenied;
                    Err(error.to_string())
                }
            }
        }
        Err(message) => {
            refused = true;
            Err(message)
        }
    };
    let retry = (delivery.attempt < MAX_DELIVERIES && !refused)
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
    fn only_public_addresses_are_called_unless_allowed() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} must be refused");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
        let strict = WebhookPolicy::default();
        let local = WebhookUrl::parse("http://127.0.0.1:9000/hook").unwrap();
        assert!(
            strict
                .check(&local)
                .unwrap_err()
                .contains("LAB_WEBHOOK_ALLOW")
        );
        let named = WebhookUrl::parse("http://localhost:6379/").unwrap();
        assert!(strict.check(&named).is_err(), "localhost is loopback");
        let allowing = WebhookPolicy::allowing(&["127.0.0.1:9000"]).unwrap();
        assert!(allowing.check(&local).is_ok());
        let other_port = WebhookUrl::parse("http://127.0.0.1:6379/").unwrap();
        assert!(
            allowing.check(&other_port).is_err(),
            "allowing a receiver does not open Redis's port"
        );
        assert!(WebhookPolicy::allowing(&["127.0.0.1"]).is_err());
    }

    #[tokio::test]
    async fn names_are_resolved_and_refused_when_they_point_inside() {
        let strict = WebhookPolicy::default();
        let url = WebhookUrl::parse("http://localhost:9/").unwrap();
        let error = strict.resolve(&url).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        let allowing = WebhookPolicy::allowing(&["localhost:9"]).unwrap();
        let address = allowing.resolve(&url).await.unwrap();
        assert!(address.ip().is_loopback());
    }

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status_of(b"HTTP/1.1 204 No Content\r\n").unwrap(), 204);
        assert!(status_of(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
