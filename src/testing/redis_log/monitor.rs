//! The `MONITOR` connection's wire: the parts of the server's URL it
//! needs, its two requests, and the lines it reads.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The parts of a `redis://` URL the monitor connection needs.
pub(super) struct Target {
    pub(super) address: String,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) database: u32,
}

pub(super) fn parse_url(url: &str) -> Target {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    let rest = rest.split('?').next().unwrap_or_default();
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((credentials, rest)) => (Some(credentials), rest),
        None => (None, rest),
    };
    let (address, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (username, password) = match credentials.map(|c| c.split_once(':').unwrap_or(("", c))) {
        Some((user, password)) => (
            (!user.is_empty()).then(|| user.to_owned()),
            (!password.is_empty()).then(|| password.to_owned()),
        ),
        None => (None, None),
    };
    Target {
        address: address.to_owned(),
        username,
        password,
        database: path.parse().unwrap_or(0),
    }
}

pub(super) async fn send(stream: &mut BufReader<TcpStream>, parts: &[&str]) {
    let mut request = format!("*{}\r\n", parts.len());
    for part in parts {
        request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|error| panic!("cannot write to the MONITOR connection: {error}"));
}

pub(super) async fn expect_ok(stream: &mut BufReader<TcpStream>, what: &str) {
    let mut line = String::new();
    let _ = stream.read_line(&mut line).await;
    assert!(
        line.starts_with("+OK"),
        "{what} on the MONITOR connection answered {line:?}"
    );
}

/// One line of MONITOR output.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct MonitorEntry {
    pub(super) database: u32,
    /// `ip:port` of the client, or `lua` for a script.
    pub(super) client: String,
    pub(super) name: String,
    pub(super) args: Vec<String>,
}

/// `+1700000000.123456 [0 127.0.0.1:5555] "SET" "key" "va\"lue"`.
pub(super) fn parse_monitor_line(line: &str) -> Option<MonitorEntry> {
    let rest = line.strip_prefix('+')?;
    let (_, rest) = rest.split_once(" [")?;
    let (source, rest) = rest.split_once("] ")?;
    let (database, client) = source.split_once(' ')?;
    let mut words = unquote_all(rest).into_iter();
    Some(MonitorEntry {
        database: database.parse().ok()?,
        client: client.to_owned(),
        name: words.next()?,
        args: words.collect(),
    })
}

/// The quoted words of a MONITOR line, escapes (`\"`, `\\`, `\n`, `\xHH`)
/// undone.
fn unquote_all(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => bytes.push(b'\n'),
                    Some('r') => bytes.push(b'\r'),
                    Some('t') => bytes.push(b'\t'),
                    Some('a') => bytes.push(7),
                    Some('b') => bytes.push(8),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        bytes.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?'));
                    }
                    Some(other) => {
                        let mut buffer = [0; 4];
                        bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                    }
                    None => {}
                },
                other => {
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                }
            }
        }
        words.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_are_read_with_their_escapes() {
        let entry =
            parse_monitor_line(r#"+1700000000.123456 [3 127.0.0.1:5555] "set" "k" "a\"b\\c\xff""#)
                .unwrap();
        assert_eq!(entry.database, 3);
        assert_eq!(entry.client, "127.0.0.1:5555");
        assert_eq!(entry.name, "set");
        assert_eq!(entry.args, ["k", "a\"b\\c\u{fffd}"]);
        let lua = parse_monitor_line(r#"+1.2 [0 lua] "incr" "x""#).unwrap();
        assert_eq!(lua.client, "lua");
    }

    #[test]
    fn urls_give_address_password_and_database() {
        let target = parse_url("redis://:secret@127.0.0.1:6380/4");
        assert_eq!(target.address, "127.0.0.1:6380");
        assert_eq!(target.password.as_deref(), Some("secret"));
        assert_eq!(target.username, None);
        assert_eq!(target.database, 4);
        let plain = parse_url("redis://127.0.0.1:6379/");
        assert_eq!(plain.database, 0);
        assert_eq!(plain.password, None);
    }
}
