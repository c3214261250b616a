//! Where webhooks may go: public addresses, and the local receivers named
//! in `LAB_WEBHOOK_ALLOW`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{WebhookError, WebhookUrl};

/// How long looking a receiver's name up may take: with the post's own
/// limit, well within the time a delivery is held for.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Where webhooks may be delivered: public addresses, and the local
/// receivers named in the allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    allow: Vec<(String, u16)>,
}

impl WebhookPolicy {
    /// A policy allowing, besides public addresses, each `host:port` of
    /// `entries` (`127.0.0.1:9000`, `localhost:8080`); an error naming the
    /// first entry that is not one.
    pub fn allowing<S: AsRef<str>>(entries: &[S]) -> Result<WebhookPolicy, WebhookError> {
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
                    return Err(WebhookError::NotHostPort(entry.to_owned()));
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
    pub fn check(&self, url: &WebhookUrl) -> Result<(), WebhookError> {
        let address = url
            .host
            .parse::<IpAddr>()
            .ok()
            .or_else(|| numeric_ipv4(&url.host).map(IpAddr::V4));
        match address {
            Some(ip) if !self.allows(url) && !is_public(ip) => Err(refusal(url, ip)),
            _ if url.host.eq_ignore_ascii_case("localhost") && !self.allows(url) => {
                Err(refusal(url, IpAddr::from([127, 0, 0, 1])))
            }
            _ => Ok(()),
        }
    }

    /// The address to deliver `url` to: its host resolved, the first
    /// address that is public, or any address when the URL is an allowed
    /// local receiver. [`WebhookError::Refused`] when every address is
    /// refused, which no retry changes; [`WebhookError::Lookup`] when the
    /// name cannot be looked up, which a retry may.
    pub async fn resolve(&self, url: &WebhookUrl) -> Result<SocketAddr, WebhookError> {
        let failed = |reason: String| WebhookError::Lookup {
            host: url.host.clone(),
            reason,
        };
        // A resolver that never answers must not hold the delivery past
        // its hold (twice the delivery's own limit).
        let lookup = tokio::net::lookup_host((url.host.as_str(), url.port));
        let addresses: Vec<SocketAddr> = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .map_err(|_| failed(format!("no answer within {LOOKUP_TIMEOUT:?}")))?
            .map_err(|error| failed(error.to_string()))?
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
        Err(refusal(url, refused))
    }
}

/// The address a host written as numbers stands for in the C library's
/// reading (`inet_aton`), which delivery's lookup uses: one to four parts,
/// each decimal, octal (a leading `0`) or hexadecimal (`0x`), the last one
/// filling the bytes left (`127.1`, `2130706433`, `0x7f000001` and
/// `0177.0.0.1` are all 127.0.0.1). `None` for anything else, a name.
fn numeric_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u32> = host
        .split('.')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            if let Some(hex) = lower.strip_prefix("0x") {
                u32::from_str_radix(hex, 16).ok()
            } else if lower.len() > 1 && lower.starts_with('0') {
                u32::from_str_radix(&lower[1..], 8).ok()
            } else {
                lower.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|part| *part > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |bits, (index, part)| bits | part << (24 - 8 * index));
    Some(Ipv4Addr::from(high | last))
}

fn refusal(url: &WebhookUrl, ip: IpAddr) -> WebhookError {
    WebhookError::Refused {
        host: url.host.clone(),
        ip,
        port: url.port,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
                .to_string()
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

    /// Delivery's lookup reads these as 127.0.0.1 (or 10.0.0.1), so they
    /// are refused when the job is submitted, as the dotted form is.
    #[test]
    fn addresses_written_as_other_numbers_are_refused_at_submission() {
        let strict = WebhookPolicy::default();
        for written in [
            "2130706433",
            "0177.0.0.1",
            "127.1",
            "0x7f000001",
            "0x7F.0.0.1",
            "10.1",
        ] {
            let url = WebhookUrl::parse(&format!("http://{written}:9000/")).unwrap();
            let error = strict.check(&url).unwrap_err();
            assert!(
                matches!(error, WebhookError::Refused { .. }),
                "{written}: {error}"
            );
        }
        assert_eq!(numeric_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(numeric_ipv4("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(numeric_ipv4("1.2.3"), Some(Ipv4Addr::new(1, 2, 0, 3)));
        assert_eq!(
            numeric_ipv4("0x5db8d822"),
            Some(Ipv4Addr::new(93, 184, 216, 34))
        );
        for not_one in [
            "example.com",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.65536",
            "08.1.1.1",
            "",
        ] {
            assert_eq!(numeric_ipv4(not_one), None, "{not_one}");
        }
        let public = WebhookUrl::parse("http://0x5db8d822/").unwrap();
        assert!(strict.check(&public).is_ok());
    }

    #[tokio::test]
    async fn names_are_resolved_and_refused_when_they_point_inside() {
        let strict = WebhookPolicy::default();
        let url = WebhookUrl::parse("http://localhost:9/").unwrap();
        let error = strict.resolve(&url).await.unwrap_err();
        assert!(matches!(error, WebhookError::Refused { .. }), "{error}");
        let allowing = WebhookPolicy::allowing(&["localhost:9"]).unwrap();
        let address = allowing.resolve(&url).await.unwrap();
        assert!(address.ip().is_loopback());
    }
}
