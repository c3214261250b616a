//! A recording in progress, and how it ends: every command the server ran
//! until a marker of its own shows up in `MONITOR`.

use redis::aio::ConnectionManager;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

use super::monitor::{expect_ok, parse_monitor_line, parse_url, send};
use super::sent::{Context, RedisCommand, RedisLog};

/// Commands a client library sends on its own to open, check or describe a
/// connection. They never touch the data and no lesson asks for them, so
/// they are left out of the log: a liveness PING or a reconnect's `HELLO`
/// arriving in the middle of a recording (seen once in CI, on a loaded
/// machine) must not count as a command the student's code chose to send.
const CONNECTION_UPKEEP: [&str; 8] = [
    "PING", "HELLO", "AUTH", "CLIENT", "SELECT", "QUIT", "RESET", "COMMAND",
];

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

impl RedisRecording {
    /// Starts recording what the Redis at `url` runs in its database;
    /// `exact_round_trips` when no other client uses that server. Panics
    /// with the reason when it cannot (it is for tests).
    pub(in crate::testing) async fn start(
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
