//! A checked webhook URL, and the one request the lab makes with it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DELIVERY_TIMEOUT, MAX_URL, WebhookError};

/// A checked webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub(super) host: String,
    pub(super) port: u16,
    path: String,
}

impl WebhookUrl {
    /// `url` if it is `http://host[:port][/path]`; otherwise what is wrong.
    pub fn parse(url: &str) -> Result<WebhookUrl, WebhookError> {
        if url.len() > MAX_URL {
            return Err(WebhookError::TooLong);
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(WebhookError::NotHttp(url.to_owned()));
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
            return Err(WebhookError::BadPath(url.to_owned()));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) if port > 0 => (host, port),
                _ => {
                    return Err(WebhookError::BadPort {
                        port: port.to_owned(),
                        url: url.to_owned(),
                    });
                }
            },
            None => (authority, 80),
        };
        let valid_host = !host.is_empty()
            && host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-');
        if !valid_host {
            return Err(WebhookError::NoHost(url.to_owned()));
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

    /// The URL with its path and query hidden (`http://host:port/…`), to
    /// show to whoever may read the job: receivers often carry their secret
    /// there (`/hooks/T0KEN`, `?sig=`).
    pub fn redacted(&self) -> String {
        let port = if self.port == 80 {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let rest = if self.path == "/" { "/" } else { "/…" };
        format!("http://{}{port}{rest}", self.host)
    }

    /// Posts `body` (JSON) to `address` (one [`super::WebhookPolicy::resolve`]
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
            let message = WebhookUrl::parse(bad).unwrap_err().to_string();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }

    #[test]
    fn a_shown_url_hides_its_path_and_query() {
        let shown = |url: &str| WebhookUrl::parse(url).unwrap().redacted();
        assert_eq!(
            shown("http://hooks.example:9000/T0KEN?sig=1"),
            "http://hooks.example:9000/…"
        );
        assert_eq!(
            shown("http://hooks.example?sig=1"),
            "http://hooks.example/…"
        );
        assert_eq!(shown("http://hooks.example"), "http://hooks.example/");
    }

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status_of(b"HTTP/1.1 204 No Content\r\n").unwrap(), 204);
        assert!(status_of(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
