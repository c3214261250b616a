//! What happened to a job, in order: every state change, progress report
//! and webhook attempt is an entry in the job's Redis stream
//! (`events:{id}`), written by the same script that made the change. The
//! stream's entry ids (`1732190000000-0`) are the event ids clients resume
//! from (`Last-Event-ID`).
//!
//! The scripts also publish the job's id on the `changes` channel;
//! [`Changes`] turns that into a wake-up for whoever waits on the job. A
//! missed message (Redis restarting) only delays a waiter until its next
//! [`RECHECK`]: the stream, not the message, is the truth.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::RedisResult;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::id::JobId;
use super::queue::{JobQueue, JobState, Progress};
use crate::services::RedisTarget;

/// How often a waiter looks at the stream even without a wake-up.
pub const RECHECK: Duration = Duration::from_secs(1);

/// One entry of a job's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The stream entry id, `<milliseconds>-<sequence>`.
    pub id: String,
    /// What happened.
    #[serde(flatten)]
    pub data: EventData,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventData {
    /// The job moved to `state`.
    State {
        /// The new state.
        state: JobState,
        /// Attempts started so far.
        attempt: u32,
        /// When, in microseconds since 1970 by Redis's clock.
        at_us: u64,
        /// Why, for a failure, a retry or a lost lease.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The running attempt got further.
    Progress(Progress),
    /// A webhook delivery attempt.
    Webhook {
        /// `delivered`, `retrying` or `abandoned`.
        webhook: String,
        /// Which attempt.
        attempt: u32,
        /// The answer, or why there was none.
        note: String,
    },
}

impl EventData {
    /// The name of the event (`state`, `progress`, `webhook`), as in SSE's
    /// `event:` line.
    pub fn name(&self) -> &'static str {
        match self {
            EventData::State { .. } => "state",
            EventData::Progress(_) => "progress",
            EventData::Webhook { .. } => "webhook",
        }
    }

    /// Whether this is the move to a final state.
    pub fn is_final(&self) -> bool {
        matches!(self, EventData::State { state, .. } if state.is_final())
    }
}

/// The longest stream entry id: two 20-digit numbers and a dash.
const LONGEST_EVENT_ID: usize = 41;

/// Whether `text` is a stream entry id (`123-4`, or `123`) that events can
/// follow.
pub fn is_event_id(text: &str) -> bool {
    // Redis refuses an id of 128 characters or more, leading zeros and
    // all; the longest it gives out is 41.
    if text.len() > LONGEST_EVENT_ID {
        return false;
    }
    let mut parts = text.splitn(2, '-');
    // Each part is a 64-bit number to Redis: a longer one is refused by
    // the server, so it is refused here, as the client's mistake.
    let number = |part: Option<&str>| {
        part.filter(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|part| part.parse::<u64>().ok())
    };
    let Some(time) = number(parts.next()) else {
        return false;
    };
    match parts.next() {
        None => true,
        // Nothing can come after the last id there is: Redis refuses to
        // read from it.
        Some(sequence) => {
            number(Some(sequence)).is_some_and(|sequence| (time, sequence) != (u64::MAX, u64::MAX))
        }
    }
}

fn parse_entry(id: String, fields: &[String]) -> Option<JobEvent> {
    let get = |name: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair.get(1))
            .cloned()
    };
    let number = |name: &str| get(name).and_then(|value| value.parse().ok()).unwrap_or(0);
    let data = match get("type")?.as_str() {
        "state" => EventData::State {
            state: JobState::parse(&get("state")?)?,
            attempt: number("attempt") as u32,
            at_us: number("at_us"),
            error: get("error"),
        },
        "progress" => EventData::Progress(Progress {
            done: number("done"),
            total: number("total"),
            note: get("note").unwrap_or_default(),
        }),
        "webhook" => EventData::Webhook {
            webhook: get("webhook")?,
            attempt: number("attempt") as u32,
            note: get("note").unwrap_or_default(),
        },
        _ => return None,
    };
    Some(JobEvent { id, data })
}

impl JobQueue {
    /// Job `id`'s events after event `after` (all of them without), oldest
    /// first; empty for an unknown or expired job.
    pub async fn events(&self, id: &JobId, after: Option<&str>) -> RedisResult<Vec<JobEvent>> {
        let mut redis = self.connection();
        let id = id.as_str();
        let start = after.map_or_else(|| "-".to_owned(), |after| format!("({after}"));
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(self.keys().shard_of(id).events(id))
            .arg(start)
            .arg("+")
            .query_async(&mut redis)
            .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(entry, fields)| parse_entry(entry, &fields))
            .collect())
    }
}

/// Wake-ups for job changes, from one Redis subscription per process.
#[derive(Clone)]
pub struct Changes {
    sender: broadcast::Sender<String>,
    _listener: Option<Arc<Listener>>,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("receivers", &self.sender.receiver_count())
            .finish()
    }
}

struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Changes {
    /// Subscribes to the `changes` channel of the queue under `prefix` at
    /// `redis_url` (a cluster's too: see [`RedisTarget`]), in a background
    /// task that reconnects when Redis goes away. Must be called inside a
    /// tokio runtime.
    pub fn listen(redis_url: &str, prefix: &str) -> RedisResult<Changes> {
        Changes::on_channel(redis_url, format!("{prefix}changes"))
    }

    /// Like [`Changes::listen`], for the ids of jobs that were just queued
    /// (what idle workers wait for).
    pub fn listen_ready(redis_url: &str, prefix: &str) -> RedisResult<Changes> {
        Changes::on_channel(redis_url, format!("{prefix}ready"))
    }

    /// Subscribes on one server; on a cluster, on one node (a message
    /// published on any node reaches every node's subscribers), the next
    /// node in turn after a disconnection, so a failed master does not
    /// silence the wake-ups.
    fn on_channel(redis_url: &str, channel: String) -> RedisResult<Changes> {
        let target = RedisTarget::parse(redis_url).map_err(|error| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "bad REDIS_URL",
                error.to_string(),
            ))
        })?;
        let clients = target
            .node_urls()
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<RedisResult<Vec<_>>>()?;
        let (sender, _) = broadcast::channel(1024);
        let forward = sender.clone();
        let task = tokio::spawn(async move {
            for client in clients.iter().cycle() {
                if let Ok(mut pubsub) = client.get_async_pubsub().await
                    && pubsub.subscribe(&channel).await.is_ok()
                {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if let Ok(id) = message.get_payload::<String>() {
                            // Nobody listening is fine.
                            let _ = forward.send(id);
                        }
                    }
                }
                tokio::time::sleep(RECHECK).await;
            }
        });
        Ok(Changes {
            sender,
            _listener: Some(Arc::new(Listener(task))),
        })
    }

    /// No subscription: waiters look at the stream every [`RECHECK`].
    pub fn polling() -> Changes {
        Changes {
            sender: broadcast::channel(1).0,
            _listener: None,
        }
    }

    /// A receiver of the ids of jobs that changed from now on. Take it
    /// before reading the job, so no change falls in between.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}

/// Waits until job `id` changes (as `receiver` hears), [`RECHECK`] passes,
/// or `deadline`, whichever comes first.
pub async fn changed(receiver: &mut broadcast::Receiver<String>, id: &JobId, deadline: Instant) {
    let until = deadline.min(Instant::now() + RECHECK);
    let heard = async {
        loop {
            match receiver.recv().await {
                Ok(changed) if changed == id.as_str() => return,
                Ok(_) => {}
                // Missed some: look at the stream now.
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    };
    let _ = tokio::time::timeout_at(until, heard).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stream_ids() {
        for good in [
            "0",
            "1732190000000-0",
            "1-12",
            "18446744073709551615",
            "18446744073709551615-18446744073709551614",
        ] {
            assert!(is_event_id(good), "{good}");
        }
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "abc",
            "1-2-3",
            "1.5",
            "99999999999999999999999",
            "99999999999999999999",
            "1-18446744073709551616",
            "18446744073709551615-18446744073709551615",
            "00000000000000000000000000000000000000000001",
        ] {
            assert!(!is_event_id(bad), "{bad}");
        }
    }

    #[test]
    fn events_serialise_with_their_type() {
        let event = JobEvent {
            id: "5-0".into(),
            data: EventData::State {
                state: JobState::Running,
                attempt: 1,
                at_us: 1_732_190_000_000_123,
                error: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"id": "5-0", "type": "state", "state": "running", "attempt": 1,
                "at_us": 1_732_190_000_000_123u64})
        );
        let fields = [
            "type", "progress", "done", "3", "total", "10", "note", "months",
        ]
        .map(String::from);
        assert_eq!(
            parse_entry("6-0".into(), &fields).unwrap().data,
            EventData::Progress(Progress {
                done: 3,
                total: 10,
                note: "months".into()
            })
        );
    }
}
