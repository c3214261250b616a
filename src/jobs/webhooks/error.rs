//! Why a webhook URL or an allowlist entry was refused, or a URL's host
//! could not be looked up.

use std::net::IpAddr;

use super::MAX_URL;

/// Why a webhook URL, or an entry of `LAB_WEBHOOK_ALLOW`, was refused (the
/// message says what to write instead), or why its host could not be looked
/// up at delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Longer than [`MAX_URL`].
    #[error("the URL is longer than {MAX_URL} characters")]
    TooLong,
    /// Not `http://`.
    #[error("{0:?} is not an http:// URL (the lab makes no TLS connections)")]
    NotHttp(String),
    /// Spaces or control characters in the path.
    #[error("{0:?} has spaces or control characters in its path")]
    BadPath(String),
    /// A port that is not 1 to 65535.
    #[error("{port:?} in {url:?} is not a port number")]
    BadPort {
        /// The port as written.
        port: String,
        /// The URL.
        url: String,
    },
    /// No host, or one with characters a host name cannot have.
    #[error("{0:?} has no host name such as 127.0.0.1 or localhost")]
    NoHost(String),
    /// An allowlist entry that is not `host:port`.
    #[error("{0:?} in LAB_WEBHOOK_ALLOW is not host:port, such as 127.0.0.1:9000")]
    NotHostPort(String),
    /// The host is, or resolves to, an address the lab does not call.
    #[error(
        "refused: {host} is {ip}, an address the lab does not call on anyone's behalf \
         (loopback, private, link-local or not routable); to let a local receiver through, \
         add \"{host}:{port}\" to LAB_WEBHOOK_ALLOW"
    )]
    Refused {
        /// The host as written in the URL.
        host: String,
        /// The address it is or resolved to.
        ip: IpAddr,
        /// The URL's port.
        port: u16,
    },
    /// The host's name could not be looked up (a typo, or no DNS answer
    /// now); unlike a refusal, a delivery is tried again.
    #[error("cannot look up the address of {host}: {reason}")]
    Lookup {
        /// The host as written in the URL.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
}
