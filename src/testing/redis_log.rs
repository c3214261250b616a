//! What a test's Redis was sent between two points, so a graded test can
//! check the technique (one `SET ... EX` rather than `SET` then `EXPIRE`,
//! `LMOVE` rather than a pop and a push) and not only the final state.
//!
//! ```no_run
//! # async fn example() {
//! # let env = lab::testing::TestEnv::start().await;
//! # let mut redis = env.redis().await;
//! let recording = env.record_redis().await;
//! let _: () = redis::cmd("SET").arg("k").arg("v").arg("EX").arg(60).query_async(&mut redis).await.unwrap();
//! let sent = recording.finish().await;
//! assert_eq!(sent.names(), ["SET"]);
//! # }
//! ```
//!
//! The commands are read from `MONITOR`, not from a wrapper around the
//! student's connection. MONITOR reports what the server executed, in the
//! order it executed it, including the commands a Lua script ran and those
//! queued in a `MULTI`/`EXEC` transaction, whichever client or connection
//! type the student's code used. `INFO commandstats` would only give counts
//! (not the order, arguments or context), and a recording connection would
//! see a script as one opaque `EVALSHA`.
//!
//! Round trips are counted from the server's `total_reads_processed`: one
//! network read per request the client sends and waits for, however many
//! commands a pipeline packs into it. The figure is exact only on a server
//! no other client uses, so it is given only when the test owns its Redis.

use redis::aio::ConnectionManager;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Commands a client library sends on its own to open, check or describe a
/// connection. They never touch the data and no lesson asks for them, so
/// they are left out of the log: a liveness PING or a reconnect's `HELLO`
/// arriving in the middle of a recording (seen once in CI, on a loaded
/// machine) must not count as a command the student's code chose to send.
const CONNECTION_UPKEEP: [&str; 8] = [
    "PING", "HELLO", "AUTH", "CLIENT", "SELECT", "QUIT", "RESET", "COMMAND",
];

/// Where a command ran, as MONITOR reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Sent by a client on its own.
    Client,
    /// Queued between `MULTI` and `EXEC`, run when `EXEC` ran.
    Transaction,
    /// Run by a Lua script (`EVAL`, `EVALSHA`, `FCALL`).
    Script,
}

/// One command the server executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCommand {
    /// The command's name, in upper case (`SET`, `LMOVE`).
    pub name: String,
    /// Its arguments, as text (bytes that are not UTF-8 are replaced).
    pub args: Vec<String>,
    /// Where it ran.
    pub context: Context,
}

impl RedisCommand {
    /// Whether one of the arguments is `option`, compared without case
    /// (`EX`, `NX`, `REV`, `WITHSCORES`).
    pub fn has_option(&self, option: &str) -> bool {
        self.args.iter().any(|arg| arg.eq_ignore_ascii_case(option))
    }

    /// The command as `redis-cli` would show it, arguments cut short.
    pub fn display(&self) -> String {
        let mut text = self.name.clone();
        for arg in &self.args {
            text.push(' ');
            if arg.chars().count() > 24 {
                text.extend(arg.chars().take(24));
                text.push('…');
            } else {
                text.push_str(arg);
            }
        }
        text
    }
}

/// The commands sent between [`TestEnv::record_redis`](super::TestEnv::record_redis)
/// and [`RedisRecording::finish`], harness commands left out.
#[derive(Debug, Clone, Default)]
pub struct RedisLog {
    /// The commands, in the order the server ran them.
    pub commands: Vec<RedisCommand>,
    round_trips: Option<u64>,
}

impl RedisLog {
    /// The names of the commands, in order (`["SET", "EXPIRE"]`).
    pub fn names(&self) -> Vec<&str> {
        self.commands.iter().map(|c| c.name.as_str()).collect()
    }

    /// How many times `name` ran.
    pub fn count(&self, name: &str) -> usize {
        self.commands
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether `name` ran at all.
    pub fn used(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// Whether any of `names` ran.
    pub fn used_any(&self, names: &[&str]) -> bool {
        names.iter().any(|name| self.used(name))
    }

    /// The first run of `name`, if any.
    pub fn first(&self, name: &str) -> Option<&RedisCommand> {
        self.commands
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The commands that touch data: everything but the transaction and
    /// script wrappers (`MULTI`, `EXEC`, `EVAL`, `WATCH`, ...).
    pub fn data_commands(&self) -> Vec<&RedisCommand> {
        self.commands
            .iter()
            .filter(|c| {
                !matches!(
                    c.name.as_str(),
                    "MULTI"
                        | "EXEC"
                        | "DISCARD"
                        | "EVAL"
                        | "EVALSHA"
                        | "EVAL_RO"
                        | "EVALSHA_RO"
                        | "FCALL"
                        | "SCRIPT"
                        | "WATCH"
                        | "UNWATCH"
                )
            })
            .collect()
    }

    /// The commands that are not among `allowed` (transaction and script
    /// wrappers excepted), for "use only these" checks.
    pub fn others_than(&self, allowed: &[&str]) -> Vec<&RedisCommand> {
        const WRAPPERS: [&str; 4] = ["MULTI", "EXEC", "EVALSHA", "EVAL"];
        self.commands
            .iter()
            .filter(|c| {
                !allowed.iter().any(|a| c.name.eq_ignore_ascii_case(a))
                    && !WRAPPERS.contains(&c.name.as_str())
            })
            .collect()
    }

    /// How many requests the client sent and waited for (a pipeline or a
    /// transaction sent at once counts once); `None` when the test's Redis
    /// is shared with other clients and the count would not be exact.
    pub fn round_trips(&self) -> Option<u64> {
        self.round_trips
    }

    /// Whether every command ran inside one transaction or one script, or
    /// there was only one command: nothing another client (or a crash)
    /// could come between.
    pub fn is_atomic(&self) -> bool {
        let outside = self
            .commands
            .iter()
            .filter(|c| c.context == Context::Client)
            .filter(|c| !matches!(c.name.as_str(), "MULTI" | "EXEC" | "WATCH" | "UNWATCH"))
            .count();
        outside <= 1 && self.count("EXEC") <= 1
    }

    /// The commands as one line for a failure message:
    /// "SET session:t0k3n ada@example.com, then EXPIRE session:t0k3n 1800".
    pub fn listing(&self) -> String {
        if self.commands.is_empty() {
            return "no command at all".to_owned();
        }
        let parts: Vec<String> = self.commands.iter().map(RedisCommand::display).collect();
        parts.join(", then ")
    }
}

/// A recording in progress: a `MONITOR` connection and a control
/// connection of the harness, whose own commands are left out.
pub struct RedisRecording {
    monitor: BufReader<TcpStream>,
    control: ConnectionManager,
    control_address: String,
    database: u32,
    reads_before: Option<u64>,
}

impl std::fmt::Debug for RedisRecording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRecording")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// The parts of a `redis://` URL the monitor connection needs.
struct Target {
    address: String,
    username: Option<String>,
    password: Option<String>,
    database: u32,
}

fn parse_url(url: &str) -> Target {
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

impl RedisRecording {
    /// Starts recording what the Redis at `url` runs in its database;
    /// `exact_round_trips` when no other client uses that server. Panics
    /// with the reason when it cannot (it is for tests).
    pub(super) async fn start(
        url: &str,
        control: ConnectionManager,
        exact_round_trips: bool,
    ) -> RedisRecording {
        let target = parse_url(url);
        let mut control = control;
        let info: String = redis::cmd("CLIENT")
            .arg("INFO")
            .query_async(&mut control)
            .await
            .unwrap_or_else(|error| panic!("CLIENT INFO failed: {error}"));
        let control_address = field(&info, "addr").unwrap_or_default().to_owned();
        let stream = TcpStream::connect(&target.address)
            .await
            .unwrap_or_else(|error| panic!("cannot open a MONITOR connection: {error}"));
        let mut monitor = BufReader::new(stream);
        if let Some(password) = &target.password {
            let user = target.username.as_deref().unwrap_or("default");
            send(&mut monitor, &["AUTH", user, password]).await;
            expect_ok(&mut monitor, "AUTH").await;
        }
        send(&mut monitor, &["MONITOR"]).await;
        expect_ok(&mut monitor, "MONITOR").await;
        let reads_before = if exact_round_trips {
            Some(reads_processed(&mut control).await)
        } else {
            None
        };
        RedisRecording {
            monitor,
            control,
            control_address,
            database: target.database,
            reads_before,
        }
    }

    /// Stops recording and returns what was run since the start.
    pub async fn finish(mut self) -> RedisLog {
        // The server runs commands one at a time and feeds MONITOR in that
        // order: once the marker shows up, everything sent before it has.
        let marker = format!("lab-recording-ends-{}", bson::oid::ObjectId::new().to_hex());
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query_async(&mut self.control)
            .await
            .unwrap_or_else(|error| panic!("ECHO failed: {error}"));
        let mut commands = Vec::new();
        let mut in_transaction: Vec<String> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.monitor.read_line(&mut line),
            )
            .await;
            match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => panic!("the MONITOR connection stopped before the end of the recording"),
            }
            let Some(entry) = parse_monitor_line(line.trim_end()) else {
                continue;
            };
            if entry.client == self.control_address {
                if entry.args.first().is_some_and(|arg| arg == &marker) {
                    break;
                }
                continue;
            }
            if entry.database != self.database {
                continue;
            }
            let name = entry.name.to_ascii_uppercase();
            if CONNECTION_UPKEEP.contains(&name.as_str()) {
                continue;
            }
            let context = if entry.client == "lua" {
                Context::Script
            } else if in_transaction.contains(&entry.client) && name != "EXEC" {
                Context::Transaction
            } else {
                Context::Client
            };
            match name.as_str() {
                "MULTI" => in_transaction.push(entry.client.clone()),
                "EXEC" | "DISCARD" => in_transaction.retain(|client| client != &entry.client),
                _ => {}
            }
            commands.push(RedisCommand {
                name,
                args: entry.args,
                context,
            });
        }
        let round_trips = match self.reads_before {
            Some(before) => {
                let after = reads_processed(&mut self.control).await;
                // Less the ECHO above and the INFO that read `after`.
                Some(after.saturating_sub(before).saturating_sub(2))
            }
            None => None,
        };
        RedisLog {
            commands,
            round_trips,
        }
    }
}

async fn reads_processed(control: &mut ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(control)
        .await
        .unwrap_or_else(|error| panic!("INFO stats failed: {error}"));
    info.lines()
        .find_map(|line| line.strip_prefix("total_reads_processed:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("this Redis does not report total_reads_processed"))
}

/// `name=value` out of a `CLIENT INFO` line.
fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

async fn send(stream: &mut BufReader<TcpStream>, parts: &[&str]) {
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

async fn expect_ok(stream: &mut BufReader<TcpStream>, what: &str) {
    let mut line = String::new();
    let _ = stream.read_line(&mut line).await;
    assert!(
        line.starts_with("+OK"),
        "{what} on the MONITOR connection answered {line:?}"
    );
}

/// One line of MONITOR output.
#[derive(Debug, PartialEq, Eq)]
struct MonitorEntry {
    database: u32,
    /// `ip:port` of the client, or `lua` for a script.
    client: String,
    name: String,
    args: Vec<String>,
}

/// `+1700000000.123456 [0 127.0.0.1:5555] "SET" "key" "va\"lue"`.
fn parse_monitor_line(line: &str) -> Option<MonitorEntry> {
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
