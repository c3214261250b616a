//! Telling waiting users that a job is over, with a Redis stream as the
//! record and pub/sub as the wake-up.
//!
//! Scenario: a report runs in the background while its user waits on a web
//! page. Every event of the job (progress, then how it ended) is appended to
//! the stream `events:{job_id}`, and the job's id is published on the channel
//! [`CHANGES`] so that anyone listening looks at the stream at once. A page
//! that reconnects asks for the events after the last id it saw and misses
//! none; a request that waits for the end blocks on the stream with
//! `XREAD BLOCK` instead of asking again and again.
//!
//! Why both? A published message reaches only the clients subscribed at
//! that moment and is then gone. The stream keeps every event, so a user who
//! arrives late, or whose connection dropped, can still read what happened.
//!
//! `Event::fields` and `Event::from_fields` are given: they turn an event
//! into the stream entry's fields and back, so the work here is the Redis
//! commands. The redis crate's typed stream methods are switched off in the
//! lab (they need its `streams` feature), so the stream commands are built
//! with `lab::redis::cmd("XADD").arg(..)`, as in notebook 09.

use std::time::Duration;

use lab::redis::RedisResult;
use lab::redis::aio::ConnectionManager;
use tokio::time::Instant;

/// How many events a job's stream keeps, about: `XADD ... MAXLEN ~ 100`.
/// An ordinary job reports a few dozen events; the bound stops a runaway
/// one from filling Redis's memory.
pub const MAX_EVENTS: usize = 100;

/// The channel on which the id of every job with a new event is published.
pub const CHANGES: &str = "jobs:changes";

/// The key of job `job_id`'s event stream.
pub fn events_key(job_id: &str) -> String {
    format!("events:{job_id}")
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The report is ready.
    Succeeded,
    /// The report could not be made.
    Failed,
    /// Someone cancelled the job.
    Cancelled,
}

impl Outcome {
    /// The outcome's name, as stored in the stream.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The outcome named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed),
            "cancelled" => Some(Outcome::Cancelled),
            _ => None,
        }
    }
}

/// What happened to a job: one entry of its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The job got further: `done` steps of `total`.
    Progress {
        /// Steps finished.
        done: u32,
        /// Steps in all.
        total: u32,
    },
    /// The job is over.
    Done(Outcome),
}

impl Event {
    /// The event's fields and values, in the order XADD takes them after
    /// the id: `type progress done 3 total 12`, or `type done outcome failed`.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Event::Progress { done, total } => vec![
                ("type", "progress".to_owned()),
                ("done", done.to_string()),
                ("total", total.to_string()),
            ],
            Event::Done(outcome) => vec![
                ("type", "done".to_owned()),
                ("outcome", outcome.as_str().to_owned()),
            ],
        }
    }

    /// The event a stream entry records, from the flat list of fields and
    /// values that XRANGE and XREAD give (`["type", "done", "outcome",
    /// "failed"]`); `None` for an entry this code does not know.
    pub fn from_fields(fields: &[String]) -> Option<Event> {
        let value = |name: &str| {
            fields
                .chunks(2)
                .find(|pair| pair[0] == name)
                .and_then(|pair| pair.get(1))
        };
        match value("type")?.as_str() {
            "progress" => Some(Event::Progress {
                done: value("done")?.parse().ok()?,
                total: value("total")?.parse().ok()?,
            }),
            "done" => Some(Event::Done(Outcome::parse(value("outcome")?)?)),
            _ => None,
        }
    }
}

/// One entry of a job's stream: its id and the event it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The id Redis gave the entry, `<milliseconds>-<sequence>`; a client
    /// resumes after the last one it saw.
    pub id: String,
    /// What happened.
    pub event: Event,
}

/// One stream entry as XRANGE and XREAD send it: its id, then its fields
/// and values in one flat list (`["type", "done", "outcome", "failed"]`).
pub type RawEntry = (String, Vec<String>);

/// What `XREAD` answers: for each stream it read, the stream's key and its
/// new entries; nil, which is `None`, when a `BLOCK` ran out of time with
/// nothing new.
pub type XreadAnswer = Option<Vec<(String, Vec<RawEntry>)>>;

/// Appends `event` to job `job_id`'s stream, keeping about the last
/// [`MAX_EVENTS`], and publishes the job's id on [`CHANGES`], both in one
/// atomic step; returns the new entry's id.
pub async fn announce(
    redis: &mut ConnectionManager,
    job_id: &str,
    event: &Event,
) -> RedisResult<String> {
    // The redis crate's typed stream methods need its `streams` feature,
    // which the lab does not turn on, so XADD is built with `cmd`.
    // `MAXLEN ~` lets Redis trim whole blocks of old entries when it is
    // cheap, so the stream holds a little more than MAX_EVENTS, never
    // without bound. `*` asks Redis to choose the id.
    let mut append = lab::redis::cmd("XADD");
    append
        .arg(events_key(job_id))
        .arg("MAXLEN")
        .arg("~")
        .arg(MAX_EVENTS)
        .arg("*");
    for (field, value) in event.fields() {
        append.arg(field).arg(value);
    }
    // One MULTI/EXEC transaction: nobody is woken up before the event is
    // there to read, and no event is stored without its wake-up. PUBLISH
    // answers how many clients heard it; nobody needs that number here.
    let (id,): (String,) = lab::redis::pipe()
        .atomic()
        .add_command(append)
        .cmd("PUBLISH")
        .arg(CHANGES)
        .arg(job_id)
        .ignore()
        .query_async(redis)
        .await?;
    Ok(id)
}

/// Job `job_id`'s events after the entry `last_id` (all of them when
/// `None`), oldest first; empty for a job with no events. A read that
/// Redis refuses is an error, not an empty list.
pub async fn events_after(
    redis: &mut ConnectionManager,
    job_id: &str,
    last_id: Option<&str>,
) -> RedisResult<Vec<Entry>> {
    // `(` makes XRANGE's start exclusive: the entry the client saw last is
    // not sent again. `-` is the very first entry.
    let start = match last_id {
        Some(id) => format!("({id}"),
        None => "-".to_owned(),
    };
    let raw: Vec<RawEntry> = lab::redis::cmd("XRANGE")
        .arg(events_key(job_id))
        .arg(start)
        .arg("+")
        .query_async(redis)
        .await?;
    Ok(parse_entries(raw))
}

/// Waits until job `job_id`'s stream has a [`Event::Done`] after the entry
/// `last_id` (from the very first entry when `None`) and returns its
/// outcome; `None` when `timeout` passes first (at once for a `timeout` of
/// zero). A read that Redis refuses is an error, never `None`.
///
/// It blocks the connection it is given until it returns: give it a
/// connection of its own. (A `ConnectionManager` and its clones share one
/// connection, and every other command on it would queue behind the wait.)
/// The lab's connections give up on an answer after 5 seconds, so keep
/// `timeout` below that; a real service that waits longer would give the
/// waiting connection a longer response timeout.
pub async fn wait_for_done(
    redis: &mut ConnectionManager,
    job_id: &str,
    last_id: Option<&str>,
    timeout: Duration,
) -> RedisResult<Option<Outcome>> {
    let deadline = Instant::now() + timeout;
    // `0` reads from the start, so a job that ended before the wait began
    // is seen at once. (`$` would mean "only what is added from now on".)
    let mut last = last_id.unwrap_or("0").to_owned();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // BLOCK takes milliseconds, and BLOCK 0 means "wait for ever", so
        // the last moments are rounded up to 1 ms, never down to 0.
        let millis = u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1);
        // The server holds the request until an entry arrives or the time
        // is up (then it answers nil): no polling, and no sleep.
        let answer: XreadAnswer = lab::redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(millis)
            .arg("STREAMS")
            .arg(events_key(job_id))
            .arg(&last)
            .query_async(redis)
            .await?;
        let Some(streams) = answer else {
            return Ok(None);
        };
        for (_, raw) in streams {
            for (id, fields) in raw {
                if let Some(Event::Done(outcome)) = Event::from_fields(&fields) {
                    return Ok(Some(outcome));
                }
                // A progress event: the next read starts after it, or the
                // same entries would come back at once, again and again.
                last = id;
            }
        }
    }
}

/// The entries of an XRANGE or XREAD answer, each an id and a flat list of
/// fields and values; entries this code cannot read are left out.
fn parse_entries(raw: Vec<RawEntry>) -> Vec<Entry> {
    raw.into_iter()
        .filter_map(|(id, fields)| {
            let event = Event::from_fields(&fields)?;
            Some(Entry { id, event })
        })
        .collect()
}
