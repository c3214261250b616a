//! Who may change things through the API, and under which name it answers.
//!
//! The API served on a socket ([`Application`]) is guarded:
//! - **Every request must name the lab's own host** in `Host` (`localhost`,
//!   `127.0.0.1`, `[::1]`, plus `LAB_API_HOSTS`), or it gets 421. A web page
//!   the user visits can make the browser send requests to a name it
//!   controls that resolves to 127.0.0.1 (DNS rebinding); those requests
//!   carry the page's name, and are refused.
//! - **Writes need the lab's key**: any method but `GET` and `HEAD` must
//!   carry `Authorization: Bearer <key>`, or it gets 401. Reads stay open:
//!   the data is the course's generated billing set, reads change nothing,
//!   and lessons and `curl` examples read without ceremony. The header is
//!   also what stops cross-site requests: an HTML form or a "simple"
//!   cross-origin request cannot set `Authorization`, and the API answers no
//!   CORS preflight, so a page cannot cancel a job or create a customer.
//! - **One of each**: two `Host` headers, or a write with two
//!   `Authorization` headers, get 400: which one counts would depend on
//!   who reads them (a proxy may take the other).
//!
//! The router the tests and notebooks call without a socket uses an open
//! guard ([`Guard::open`]): nothing outside the process can reach it. (`lab
//! bench api` serves an open router on a loopback port for the length of a
//! run, over a scratch database of its own.)
//!
//! [`Application`]: crate::startup::Application

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use super::ApiError;
use super::extract::single_header;
use crate::config::ApiKey;
use crate::services::secret::same_secret;

/// The names every lab API answers to.
pub const OWN_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// What the API asks of a request before a handler sees it.
#[derive(Debug, Clone)]
pub struct Guard {
    key: Option<ApiKey>,
    hosts: Option<Vec<String>>,
}

impl Guard {
    /// No checks: for the router called inside one process.
    pub fn open() -> Guard {
        Guard {
            key: None,
            hosts: None,
        }
    }

    /// Writes need `key`; requests must name one of [`OWN_HOSTS`] or
    /// `extra_hosts`.
    pub fn new(key: ApiKey, extra_hosts: &[String]) -> Guard {
        Guard {
            key: Some(key),
            ..Guard::hosts_only(extra_hosts)
        }
    }

    /// Requests must name one of [`OWN_HOSTS`] or `extra_hosts`; no key is
    /// asked for: for a port that only answers reads (a worker's status).
    pub fn hosts_only(extra_hosts: &[String]) -> Guard {
        let mut hosts: Vec<String> = OWN_HOSTS.iter().map(|host| (*host).to_owned()).collect();
        hosts.extend(extra_hosts.iter().map(|host| host.to_ascii_lowercase()));
        Guard {
            key: None,
            hosts: Some(hosts),
        }
    }

    /// Why `request` is refused, if it is.
    pub fn refusal(&self, request: &Request) -> Option<ApiError> {
        if let Some(hosts) = &self.hosts {
            let allowed = |named: &str| {
                host_name(named)
                    .is_some_and(|name| hosts.iter().any(|host| host.eq_ignore_ascii_case(name)))
            };
            // Both the Host header and, in an absolute-form request line,
            // the URI's own authority (which HTTP says wins) must be ours.
            // Borrowed, not copied: this runs on every request.
            // Two `Host` headers name no one host (RFC 9112 asks for a 400).
            let header = match single_header(request.headers(), "Host") {
                Ok(header) => header,
                Err(refused) => return Some(refused),
            };
            let named = header.map(|value| String::from_utf8_lossy(value.as_bytes()));
            let authority = request.uri().authority().map(|a| a.as_str());
            let refused = match (&named, authority) {
                (None, None) => Some(String::new()),
                (Some(named), _) if !allowed(named) => Some(named.to_string()),
                (_, Some(authority)) if !allowed(authority) => Some(authority.to_owned()),
                _ => None,
            };
            if let Some(host) = refused {
                return Some(ApiError::WrongHost { host });
            }
        }
        if let Some(key) = &self.key
            && !matches!(*request.method(), Method::GET | Method::HEAD)
        {
            let given = match single_header(request.headers(), "Authorization") {
                Ok(given) => given.map(|value| value.as_bytes()),
                Err(refused) => return Some(refused),
            };
            // The scheme's name is case-insensitive (RFC 9110).
            let bearer = given.and_then(|value| {
                (value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer "))
                    .then(|| &value[7..])
            });
            return match (given, bearer) {
                (None, _) => Some(ApiError::Unauthorized { key_given: false }),
                (Some(_), Some(bearer)) if same_secret(bearer, key.expose().as_bytes()) => None,
                (Some(_), _) => Some(ApiError::Unauthorized { key_given: true }),
            };
        }
        None
    }
}

/// The name part of a `Host` value: `127.0.0.1:8000` gives `127.0.0.1`,
/// `[::1]:8000` gives `[::1]`; `None` when what follows the name is not
/// an optional `:port`.
fn host_name(host: &str) -> Option<&str> {
    let (name, rest) = if host.starts_with('[') {
        let end = host.find(']')?;
        host.split_at(end + 1)
    } else {
        host.split_at(host.find(':').unwrap_or(host.len()))
    };
    let port_ok = rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    port_ok.then_some(name)
}

/// The middleware: refuses what [`Guard::refusal`] refuses.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.refusal(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header;

    fn guard() -> Guard {
        let key = ApiKey::parse("k".repeat(32)).unwrap();
        Guard::new(key, &["lab.example".to_owned()])
    }

    fn request(method: Method, host: Option<&str>, authorization: Option<&str>) -> Request {
        let mut builder = Request::builder().method(method).uri("/customers");
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        if let Some(authorization) = authorization {
            builder = builder.header(header::AUTHORIZATION, authorization);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8000"), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8000"), Some("[::1]"));
        assert_eq!(host_name("localhost"), Some("localhost"));
        assert_eq!(host_name("evil.example:80"), Some("evil.example"));
        for malformed in [
            "[::1]evil",
            "[::1]:abc",
            "localhost:",
            "localhost:80:80",
            "[::1",
        ] {
            assert_eq!(host_name(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn a_second_host_header_is_refused() {
        let mut request = request(Method::GET, Some("localhost"), None);
        request
            .headers_mut()
            .append(header::HOST, "evil.example".parse().unwrap());
        assert!(matches!(
            guard().refusal(&request),
            Some(ApiError::BadRequest(message)) if message.contains("one Host header")
        ));
    }

    #[test]
    fn a_second_authorization_header_is_refused_even_when_one_is_the_key() {
        let key = format!("Bearer {}", "k".repeat(32));
        for (first, second) in [
            (key.as_str(), "Bearer wrong"),
            ("Bearer wrong", key.as_str()),
        ] {
            let mut request = request(Method::POST, Some("localhost"), Some(first));
            request
                .headers_mut()
                .append(header::AUTHORIZATION, second.parse().unwrap());
            assert!(matches!(
                guard().refusal(&request),
                Some(ApiError::BadRequest(message)) if message.contains("one Authorization header")
            ));
        }
    }

    #[test]
    fn only_the_labs_own_names_are_answered() {
        let guard = guard();
        for host in [
            "127.0.0.1:8000",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8000",
            "lab.example",
        ] {
            assert!(
                guard
                    .refusal(&request(Method::GET, Some(host), None))
                    .is_none(),
                "{host}"
            );
        }
        for host in [
            Some("evil.example:8000"),
            Some("127.0.0.1.evil.example"),
            Some("localhost."),
            Some("user@localhost"),
            Some("[::1]evil"),
            None,
        ] {
            let refusal = guard.refusal(&request(Method::GET, host, None));
            assert!(
                matches!(refusal, Some(ApiError::WrongHost { .. })),
                "{host:?}: {refusal:?}"
            );
        }
    }

    #[test]
    fn writes_need_the_key_and_reads_do_not() {
        let guard = guard();
        let host = Some("127.0.0.1:8000");
        let key = format!("Bearer {}", "k".repeat(32));
        assert!(guard.refusal(&request(Method::GET, host, None)).is_none());
        assert!(guard.refusal(&request(Method::HEAD, host, None)).is_none());
        for method in [Method::POST, Method::PATCH, Method::PUT, Method::DELETE] {
            assert!(
                guard
                    .refusal(&request(method.clone(), host, Some(&key)))
                    .is_none()
            );
            assert!(matches!(
                guard.refusal(&request(method.clone(), host, None)),
                Some(ApiError::Unauthorized { key_given: false })
            ));
            let shouted = format!("BEARER {}", "k".repeat(32));
            assert!(
                guard
                    .refusal(&request(method.clone(), host, Some(&shouted)))
                    .is_none(),
                "the scheme's name is case-insensitive"
            );
            for wrong in [
                format!("Bearer {}", "K".repeat(32)),
                format!("Bearer {}", "j".repeat(32)),
                "Basic a2V5".to_owned(),
                "k".repeat(32),
            ] {
                assert!(
                    matches!(
                        guard.refusal(&request(method.clone(), host, Some(&wrong))),
                        Some(ApiError::Unauthorized { key_given: true })
                    ),
                    "{method} with {wrong}"
                );
            }
        }
    }

    #[test]
    fn an_absolute_uri_naming_another_host_is_refused() {
        let request = Request::builder()
            .uri("http://evil.example/customers")
            .header(header::HOST, "localhost")
            .body(Body::empty())
            .unwrap();
        assert!(matches!(
            guard().refusal(&request),
            Some(ApiError::WrongHost { host }) if host == "evil.example"
        ));
    }

    #[test]
    fn an_open_guard_lets_everything_through() {
        assert!(
            Guard::open()
                .refusal(&request(Method::DELETE, None, None))
                .is_none()
        );
    }
}
