//! Graded tests of the job-done notice exercise, shared by `exercises` and
//! `solutions`. Redis is the test's own.
//!
//! A job's events are a Redis stream, `events:{job_id}`, bounded with
//! `MAXLEN`, and each new event wakes listeners with a `PUBLISH` of the job's
//! id on `jobs:changes`, in the same atomic step. The tests check the
//! commands sent as well as the answers: a reader that resumes after the
//! last id it saw gets every later event once; a waiter blocks in
//! `XREAD BLOCK` (no polling), reads on after each progress event, gives
//! each read only the time left, and still learns the outcome when the job
//! ended before it started waiting. Either XRANGE with an exclusive start or
//! XREAD reads the events; a MULTI/EXEC transaction or a Lua script makes
//! the step atomic.
//!
//! Nothing here measures how fast an answer came: where a test must know
//! that the waiter is already waiting, it asks Redis whether that client is
//! blocked, and every bound on a wait is seconds wider than the wait.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::done_notice::*;
use lab::futures::StreamExt;
use lab::redis::RedisResult;
use lab::redis::aio::ConnectionManager;
use lab::testing::{RedisCommand, RedisLog, TestEnv, inspect};

/// The commands that read a stream.
const READS: [&str; 3] = ["XREAD", "XRANGE", "XREVRANGE"];

fn progress(done: u32) -> Event {
    Event::Progress { done, total: 12 }
}

/// The entries of the stream at `key`, each an id and its fields by name,
/// so that the order in which the fields were written does not matter.
async fn stored(
    redis: &mut ConnectionManager,
    key: &str,
) -> Vec<(String, BTreeMap<String, String>)> {
    let raw: Vec<(String, Vec<String>)> = lab::redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("XRANGE {key} failed: {error}"));
    raw.into_iter()
        .map(|(id, fields)| {
            let by_name = fields
                .chunks(2)
                .filter_map(|pair| Some((pair[0].clone(), pair.get(1)?.clone())))
                .collect();
            (id, by_name)
        })
        .collect()
}

/// The threshold of an `XADD key [NOMKSTREAM] MAXLEN [~|=] n ...`, if it
/// has one.
fn maxlen_of(command: &RedisCommand) -> Option<u64> {
    let mut args = command.args.iter().skip(1).peekable();
    if args
        .peek()
        .is_some_and(|arg| arg.eq_ignore_ascii_case("NOMKSTREAM"))
    {
        args.next();
    }
    if !args.next()?.eq_ignore_ascii_case("MAXLEN") {
        return None;
    }
    let mut threshold = args.next()?;
    if threshold == "~" || threshold == "=" {
        threshold = args.next()?;
    }
    threshold.parse().ok()
}

/// The stream reads in `sent`.
fn reads(sent: &RedisLog) -> Vec<&RedisCommand> {
    sent.commands
        .iter()
        .filter(|c| READS.contains(&c.name.as_str()))
        .collect()
}

/// The reads as one line for a failure message.
fn listing_of(reads: &[&RedisCommand]) -> String {
    if reads.is_empty() {
        return "no read at all".to_owned();
    }
    let shown: Vec<String> = reads.iter().take(6).map(|c| c.display()).collect();
    let more = reads.len().saturating_sub(6);
    if more > 0 {
        format!("{}, then {more} more", shown.join(", then "))
    } else {
        shown.join(", then ")
    }
}

/// What a wait answered; `None` when it had not answered in the time the
/// test gave it.
type Waited = Option<RedisResult<Option<Outcome>>>;

/// `wait_for_done` of `job` after the entry `last` (from the first when
/// `None`), for `wait`, given `limit` to answer at all, with the commands it
/// sent.
async fn recorded_wait(
    env: &TestEnv,
    waiter: &mut ConnectionManager,
    job: &str,
    last: Option<&str>,
    wait: Duration,
    limit: Duration,
) -> (Waited, RedisLog) {
    let recording = env.record_redis().await;
    let answer = tokio::time::timeout(limit, wait_for_done(waiter, job, last, wait)).await;
    (answer.ok(), recording.finish().await)
}

/// Whether the XADD and the PUBLISH ran together in one transaction or one
/// script, where nothing can come between them.
fn in_one_step(sent: &RedisLog) -> bool {
    let both: Vec<&RedisCommand> = sent
        .commands
        .iter()
        .filter(|c| c.name == "XADD" || c.name == "PUBLISH")
        .collect();
    both.len() == 2 && sent.ran_together(&both)
}

/// Puts a string where `job`'s event stream belongs, so that Redis refuses
/// every stream command on it (WRONGTYPE).
async fn a_string_under_the_events_of(redis: &mut ConnectionManager, job: &str) {
    let () = lab::redis::cmd("SET")
        .arg(events_key(job))
        .arg("not a stream")
        .query_async(redis)
        .await
        .unwrap();
}

/// Appends to `job`'s stream an entry this code does not know, `type
/// <kind> <field> <value>` (for which `Event::from_fields` gives None), as a
/// newer version of the service, or a webhook's deliverer, could write.
async fn an_unknown_entry_in_the_events_of(
    redis: &mut ConnectionManager,
    job: &str,
    [kind, field, value]: [&str; 3],
) {
    let _: String = lab::redis::cmd("XADD")
        .arg(events_key(job))
        .arg("*")
        .arg("type")
        .arg(kind)
        .arg(field)
        .arg(value)
        .query_async(redis)
        .await
        .expect("cannot add an entry to the stream");
}

/// The id Redis knows a connection by, to ask later whether it is blocked.
async fn client_id(redis: &mut ConnectionManager) -> i64 {
    lab::redis::cmd("CLIENT")
        .arg("ID")
        .query_async(redis)
        .await
        .unwrap_or_else(|error| panic!("CLIENT ID failed: {error}"))
}

/// Waits until Redis reports client `id` blocked in a command, or `task`
/// has ended, for at most a second. There is no notification for "a client
/// is now blocked", so this asks every 10 ms; a waiter that never blocks
/// (it polls) only makes the test go on after a second, and the commands it
/// sent tell the rest.
async fn until_blocked<T>(
    control: &mut ConnectionManager,
    id: i64,
    task: &tokio::task::JoinHandle<T>,
) {
    for _ in 0..100 {
        let info: String = lab::redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(id)
            .query_async(control)
            .await
            .unwrap_or_else(|error| panic!("CLIENT LIST failed: {error}"));
        let blocked = info
            .split_whitespace()
            .filter_map(|field| field.strip_prefix("flags="))
            .any(|flags| flags.contains('b'));
        if blocked || task.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_event_is_appended_to_a_bounded_stream_and_published_in_one_step() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let client = lab::redis::Client::open(env.redis_url()).expect("the test's Redis URL is valid");
    let mut listener = client
        .get_async_pubsub()
        .await
        .expect("cannot open a subscriber connection");
    listener
        .subscribe(CHANGES)
        .await
        .expect("cannot subscribe to the channel");
    let recording = env.record_redis().await;
    let id = announce(&mut redis, "job-1", &progress(1))
        .await
        .expect("announce returned an error");
    let sent = recording.finish().await;
    let data = sent.data_commands();
    let append = data
        .iter()
        .find(|c| c.name == "XADD" && c.args.first().map(String::as_str) == Some("events:job-1"));
    let Some(append) = append else {
        panic!(
            "announce must append the event to the job's stream, `XADD events:job-1 ...`: \
             PUBLISH alone stores nothing, so a user who connects a moment later, or whose \
             connection dropped, never hears of the event; announce sent {}",
            sent.listing()
        );
    };
    // The bound goes on the XADD itself, or in an `XTRIM` of the same
    // stream sent with it (as LTRIM bounds a list after an LPUSH), in the
    // transaction or after it: the stream stays bounded either way.
    let trimmed = data
        .iter()
        .find(|c| c.name == "XTRIM" && c.args.first().map(String::as_str) == Some("events:job-1"));
    assert_eq!(
        maxlen_of(append).or_else(|| trimmed.and_then(|c| maxlen_of(c))),
        Some(MAX_EVENTS as u64),
        "announce must bound the stream: `XADD events:job-1 MAXLEN ~ {MAX_EVENTS} * ...` keeps \
         about the last {MAX_EVENTS} events (so does an `XTRIM events:job-1 MAXLEN ~ \
         {MAX_EVENTS}` sent with it); without a bound a stream only grows, and a job \
         that reports without end fills Redis's memory; announce sent {}",
        sent.listing()
    );
    assert!(
        data.iter()
            .any(|c| c.name == "PUBLISH" && c.args == [CHANGES, "job-1"]),
        "announce must wake whoever is listening with `PUBLISH {CHANGES} job-1` (the channel \
         CHANGES, the job's id as the message), so they read the stream at once; announce sent {}",
        sent.listing()
    );
    assert!(
        in_one_step(&sent),
        "announce sent {}: the XADD and the PUBLISH must go in one atomic step, a MULTI/EXEC \
         pipeline (`lab::redis::pipe().atomic()`) or a Lua script. Sent one after the other, a \
         listener can be woken before the event is there to read, or a crash in between stores \
         an event nobody is told about",
        sent.listing()
    );
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.on_message().next()).await;
    let payload: Option<String> = match heard {
        Ok(Some(message)) => message.get_payload().ok(),
        _ => None,
    };
    assert_eq!(
        payload.as_deref(),
        Some("job-1"),
        "a client subscribed to `{CHANGES}` must hear the job's id, `job-1`, when an event of \
         the job is announced"
    );
    let entries = stored(&mut redis, "events:job-1").await;
    assert_eq!(
        entries
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        [id.as_str()],
        "announce answers the id XADD gave the new entry (`<milliseconds>-<sequence>`), the one \
         a client resumes after; `events:job-1` holds {entries:?}"
    );
    announce(&mut redis, "job-1", &Event::Done(Outcome::Succeeded))
        .await
        .expect("announce returned an error");
    let mut all = inspect::dump(&mut redis).await;
    all["events:job-1"]["value"] = serde_json::json!(
        stored(&mut redis, "events:job-1")
            .await
            .into_iter()
            .map(|(_, fields)| fields)
            .collect::<Vec<_>>()
    );
    lab::graded_snapshot!(
        "jobs_done_notice_one_job",
        all,
        "after a progress event and the end of `job-1`, Redis must hold only the stream \
         `events:job-1`, with the two entries in order, their fields written by `event.fields()`"
    );
    drop(listener);
    for done in 0..250 {
        announce(
            &mut redis,
            "job-busy",
            &Event::Progress { done, total: 250 },
        )
        .await
        .expect("announce returned an error");
    }
    let length = stored(&mut redis, "events:job-busy").await.len();
    assert!(
        (MAX_EVENTS..2 * MAX_EVENTS).contains(&length),
        "after 250 events a stream bounded with `MAXLEN ~ {MAX_EVENTS}` holds between \
         {MAX_EVENTS} and {} of them (with `~` Redis trims whole blocks of old entries, so a \
         few more may stay); `events:job-busy` holds {length}",
        2 * MAX_EVENTS - 1
    );

    // Twenty jobs' workers announcing at once through clones of one
    // ConnectionManager, which share one connection: Redis reads their
    // commands in the order they reach that connection.
    let announcing: Vec<_> = (1..=20)
        .map(|done| {
            let mut shared = redis.clone();
            tokio::spawn(async move { announce(&mut shared, "job-crowd", &progress(done)).await })
        })
        .collect();
    let mut refused = Vec::new();
    for task in announcing {
        if let Err(error) = task.await.expect("an announcing task panicked") {
            refused.push(error.to_string());
        }
    }
    let kept = stored(&mut redis, "events:job-crowd").await.len();
    assert!(
        refused.is_empty() && kept == 20,
        "20 announces at once on clones of one ConnectionManager, which share one connection: \
         {} failed ({:?}) and `events:job-crowd` holds {kept} entries of 20. MULTI, XADD, \
         PUBLISH and EXEC sent as four separate commands mix with the other tasks' commands on \
         the connection they share (Redis refuses a MULTI inside another, and one EXEC runs \
         what several tasks queued). Send the transaction as one pipeline, \
         `lab::redis::pipe().atomic()`, which goes out in one piece, or as one Lua script",
        refused.len(),
        refused.first()
    );
}

#[tokio::test]
async fn events_after_an_id_are_the_later_ones_oldest_first() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let mut expected = Vec::new();
    for done in 1..=12 {
        let event = progress(done);
        let id = announce(&mut redis, "job-3", &event)
            .await
            .expect("announce returned an error");
        expected.push(Entry { id, event });
        // Another job's events, in the same moments, in their own stream.
        announce(&mut redis, "job-4", &progress(done))
            .await
            .expect("announce returned an error");
    }
    let end = Event::Done(Outcome::Failed);
    let id = announce(&mut redis, "job-3", &end)
        .await
        .expect("announce returned an error");
    expected.push(Entry { id, event: end });
    let all = events_after(&mut redis, "job-3", None)
        .await
        .expect("events_after returned an error");
    assert_eq!(
        all.len(),
        13,
        "events_after with no last id must give every event of `job-3`, 13 here (12 progress \
         reports and the end); it gave {}. A COUNT cuts the answer short: the caller wants them all",
        all.len()
    );
    assert_eq!(
        all, expected,
        "events_after with no last id must give the job's events oldest first, each with the id \
         Redis gave it and the event Event::from_fields reads from its fields"
    );
    let fifth = expected[4].id.clone();
    let resumed = events_after(&mut redis, "job-3", Some(&fifth))
        .await
        .expect("events_after returned an error");
    assert_ne!(
        resumed.len(),
        13,
        "events_after(Some(id)) read the whole stream again: a client that resumes must get only \
         what came after the last event it saw, so start after `last_id`, not from `-` or `0`, \
         or every event repeats"
    );
    assert!(
        !resumed.iter().any(|entry| entry.id == fifth),
        "events_after(Some(id)) gave the entry `id` itself again, so a client that resumes sees \
         its last event twice: the start must be exclusive, `XRANGE key ({fifth} +` with a `(`, \
         or XREAD, which answers only entries after the id"
    );
    assert_eq!(
        resumed,
        expected[5..],
        "events_after(Some(id)) must give every event after the entry `id`, oldest first: here \
         the 8 after the fifth"
    );
    let last = expected[12].id.clone();
    assert_eq!(
        events_after(&mut redis, "job-3", Some(&last))
            .await
            .expect("events_after returned an error"),
        Vec::<Entry>::new(),
        "nothing came after the job's last event, so events_after from its id is an empty list"
    );
    assert_eq!(
        events_after(&mut redis, "job-404", None)
            .await
            .expect("events_after returned an error for a job with no stream"),
        Vec::<Entry>::new(),
        "a job with no stream has no events: an empty list, not an error"
    );
    assert_eq!(
        events_after(&mut redis, "job-404", Some("1-0"))
            .await
            .expect("events_after returned an error for a job with no stream"),
        Vec::<Entry>::new(),
        "a job with no stream has no events after any id: an empty list, not an error (XREAD \
         answers nil there)"
    );
    // After the job's end, an entry this code does not know (a webhook's
    // delivery note, say). Read on a task of its own, so that a panic is
    // reported here.
    let mut known = Vec::new();
    for event in [progress(12), Event::Done(Outcome::Succeeded)] {
        let id = announce(&mut redis, "job-noted", &event)
            .await
            .expect("announce returned an error");
        known.push(Entry { id, event });
    }
    an_unknown_entry_in_the_events_of(&mut redis, "job-noted", ["webhook", "status", "delivered"])
        .await;
    let mut reader = redis.clone();
    let noted = tokio::spawn(async move { events_after(&mut reader, "job-noted", None).await })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`events:job-noted` holds a progress event, the job's end, and then an entry \
                 this code does not know (`type webhook`, a delivery note written after the job \
                 ended), and events_after panicked: one entry it cannot read must not stop every \
                 read of the job's events, or a reconnecting page never learns how the job went. \
                 Event::from_fields gives None for such an entry: leave that entry out \
                 (`filter_map`) instead of unwrapping it"
            )
        });
    assert!(
        matches!(&noted, Ok(entries) if *entries == known),
        "`events:job-noted` holds a progress event, the job's end (succeeded), and then an entry \
         this code does not know (`type webhook`, a delivery note written after the job ended), \
         yet events_after answered {noted:?}: the two events it knows must still be given, \
         oldest first. Leave out only the entry Event::from_fields gives None for \
         (`filter_map`), as the wait steps over it; one such entry must not empty or refuse the \
         whole answer (collecting into an `Option<Vec<_>>` does)"
    );
    // `MAXLEN ~` trims whole blocks of entries, so a stream may well hold
    // more than MAX_EVENTS: written here directly, without a bound.
    let long = MAX_EVENTS + MAX_EVENTS / 2;
    let mut append = lab::redis::pipe();
    for done in 1..=long {
        let event = if done == long {
            Event::Done(Outcome::Succeeded)
        } else {
            progress(done as u32)
        };
        let command = append.cmd("XADD").arg(events_key("job-long")).arg("*");
        for (field, value) in event.fields() {
            command.arg(field).arg(value);
        }
        command.ignore();
    }
    let () = append
        .query_async(&mut redis)
        .await
        .unwrap_or_else(|error| panic!("the test could not fill events:job-long: {error}"));
    let recording = env.record_redis().await;
    let read = events_after(&mut redis, "job-long", None)
        .await
        .expect("events_after returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        read.len(),
        long,
        "`events:job-long` holds {long} events, the last one the job's end; events_after with \
         no last id gave {} of them, sending {}. `MAXLEN ~ {MAX_EVENTS}` keeps about \
         {MAX_EVENTS}, often more (Redis trims whole blocks), so a `COUNT {MAX_EVENTS}` misses \
         the newest events, the done event among them: read to the end of the stream",
        read.len(),
        listing_of(&reads(&sent))
    );
    // A key of the wrong type makes Redis refuse the read (WRONGTYPE).
    a_string_under_the_events_of(&mut redis, "job-text").await;
    let outcome = events_after(&mut redis, "job-text", None).await;
    assert!(
        outcome.is_err(),
        "`events:job-text` held a string, not a stream, so Redis refused the read (WRONGTYPE), \
         yet events_after answered {outcome:?}: a failed read is not a job with no events yet; \
         a reconnecting page told \"nothing happened\" keeps waiting for news nobody could read. \
         Pass Redis's error on with `?` (an empty list is only for a stream that is not there)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_resumes_from_its_last_id_misses_none_and_repeats_none() {
    let env = TestEnv::start().await;
    // One reader and three workers at once: the reader asks for what is
    // new after the last id it saw, again and again, while they announce.
    let results = env
        .race_redis(4, |mut redis, task| async move {
            let mut seen: Vec<Entry> = Vec::new();
            if task == 0 {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while seen.len() < 30 && tokio::time::Instant::now() < deadline {
                    let last = seen.last().map(|entry| entry.id.clone());
                    seen.extend(events_after(&mut redis, "job-5", last.as_deref()).await?);
                }
            } else {
                for done in 1..=10 {
                    announce(&mut redis, "job-5", &progress(done)).await?;
                }
            }
            Ok::<_, lab::redis::RedisError>(seen)
        })
        .await;
    let mut read = Vec::new();
    for result in results {
        read.extend(result.expect("announce or events_after returned an error"));
    }
    // What was announced after the reader stopped, read the same way.
    let mut redis = env.redis().await;
    let last = read.last().map(|entry: &Entry| entry.id.clone());
    read.extend(
        events_after(&mut redis, "job-5", last.as_deref())
            .await
            .expect("events_after returned an error"),
    );
    let read_ids: Vec<String> = read.iter().map(|entry| entry.id.clone()).collect();
    let distinct: BTreeSet<&String> = read_ids.iter().collect();
    let repeated = read_ids.len() - distinct.len();
    assert_eq!(
        repeated, 0,
        "a reader resuming from the last id it saw got {repeated} events twice while three \
         workers announced: events_after must start after `last_id` (exclusive), never at it \
         or before it"
    );
    let in_redis: Vec<String> = stored(&mut redis, "events:job-5")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        read_ids, in_redis,
        "a reader resuming from the last id it saw must get each of the 30 events exactly once, \
         in the stream's order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_blocks_until_the_job_is_done_without_polling() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let mut control = env.redis().await;
    let first = announce(&mut redis, "job-7", &progress(1))
        .await
        .expect("announce returned an error");
    // The waiter has a connection of its own: XREAD BLOCK holds it.
    let mut waiter = env.redis().await;
    let waiter_id = client_id(&mut waiter).await;
    let recording = env.record_redis().await;
    let waiting = tokio::spawn(async move {
        wait_for_done(&mut waiter, "job-7", Some(&first), Duration::from_secs(4)).await
    });
    until_blocked(&mut control, waiter_id, &waiting).await;
    announce(&mut redis, "job-7", &progress(2))
        .await
        .expect("announce returned an error");
    // Redis answers a blocked XREAD as soon as the XADD has run, so once
    // the waiter is blocked again it has seen the progress event alone.
    until_blocked(&mut control, waiter_id, &waiting).await;
    announce(&mut redis, "job-7", &Event::Done(Outcome::Failed))
        .await
        .expect("announce returned an error");
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting).await;
    let sent = recording.finish().await;
    let outcome = outcome
        .unwrap_or_else(|_| {
            panic!(
                "wait_for_done was still waiting 10 s after the job was announced done, with a \
                 4 s timeout: it sent {}",
                listing_of(&reads(&sent))
            )
        })
        .expect("wait_for_done panicked")
        .expect("wait_for_done returned an error");
    let read = reads(&sent);
    assert!(
        read.iter().any(|c| c.block_millis().is_some()),
        "wait_for_done must let Redis do the waiting with `XREAD BLOCK <ms> STREAMS \
         events:job-7 <id>`: the server answers the moment an entry arrives. A loop that reads, \
         sleeps and reads again (polling) hears the news late and sends a request every turn; \
         wait_for_done sent {}",
        listing_of(&read)
    );
    assert_eq!(
        outcome,
        Some(Outcome::Failed),
        "wait_for_done must read past progress events and answer the outcome of the done event, \
         here Some(Failed): a progress event is not the end of the job"
    );
    // Two wake-ups, each followed by a read, plus a look at the stream
    // before each block: six at most. A busy loop sends dozens.
    assert!(
        read.len() <= 6,
        "wait_for_done sent {} reads for 2 new events ({}): each XREAD must start after the last \
         entry it has seen; read again from an older id, the same entries come back at once and \
         the wait becomes a busy loop",
        read.len(),
        listing_of(&read)
    );

    // A job that has not announced anything yet (queued, say): its stream
    // does not exist until its first event, and XREAD BLOCK waits for it.
    let mut waiter = env.redis().await;
    let waiter_id = client_id(&mut waiter).await;
    let waiting = tokio::spawn(async move {
        wait_for_done(&mut waiter, "job-new", None, Duration::from_secs(4)).await
    });
    until_blocked(&mut control, waiter_id, &waiting).await;
    announce(&mut redis, "job-new", &Event::Done(Outcome::Succeeded))
        .await
        .expect("announce returned an error");
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap_or_else(|_| {
            panic!("wait_for_done was still waiting 10 s after the job was announced done")
        })
        .expect("wait_for_done panicked")
        .expect("wait_for_done returned an error");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "a wait on a job that has not announced anything yet (its stream does not exist until \
         the first XADD) must wait for the job's end, here succeeded, announced while it \
         waited: a missing stream is a job with no news yet, not one with nothing to wait for. \
         `XREAD BLOCK` on a key that does not exist waits until it is created"
    );
}

#[tokio::test]
async fn a_late_waiter_still_learns_the_outcome_from_the_stream() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let last_progress = announce(&mut redis, "job-8", &progress(12))
        .await
        .expect("announce returned an error");
    // Nobody is subscribed: this PUBLISH reaches no one and is gone.
    let end = announce(&mut redis, "job-8", &Event::Done(Outcome::Succeeded))
        .await
        .expect("announce returned an error");
    let mut waiter = env.redis().await;
    let wait = |waiter: &mut ConnectionManager, last_id: Option<String>, millis: u64| {
        let mut waiter = waiter.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(8),
                wait_for_done(
                    &mut waiter,
                    "job-8",
                    last_id.as_deref(),
                    Duration::from_millis(millis),
                ),
            )
            .await
            .expect("wait_for_done was still waiting 8 s into a wait of at most 2 s")
            .expect("wait_for_done returned an error")
        }
    };
    assert_eq!(
        wait(&mut waiter, None, 2000).await,
        Some(Outcome::Succeeded),
        "a user who starts waiting after the job ended must still learn how it ended: the \
         PUBLISH reached nobody and is gone, but the stream kept the event. With no last id, \
         read from the start (`0`), not from `$`, which means only entries added from now on"
    );
    assert_eq!(
        wait(&mut waiter, Some(last_progress), 2000).await,
        Some(Outcome::Succeeded),
        "a waiter resuming after the last progress event it saw must find the done event that \
         came after it"
    );
    assert_eq!(
        wait(&mut waiter, Some(end), 300).await,
        None,
        "a waiter that has already seen the done event (last_id is its id) finds nothing after \
         it and must answer None when its time is up: read after last_id, not from the start"
    );
    // The done event, then an entry written after the job ended (a note of
    // a webhook's delivery, say).
    announce(&mut redis, "job-18", &Event::Done(Outcome::Failed))
        .await
        .expect("announce returned an error");
    an_unknown_entry_in_the_events_of(&mut redis, "job-18", ["webhook", "status", "delivered"])
        .await;
    let late = tokio::time::timeout(
        Duration::from_secs(8),
        wait_for_done(&mut waiter, "job-18", None, Duration::from_millis(500)),
    )
    .await
    .expect("wait_for_done was still waiting 8 s into a wait of 500 ms")
    .expect("wait_for_done returned an error");
    assert_eq!(
        late,
        Some(Outcome::Failed),
        "job-18's stream holds its done event (failed) and then one more entry, written after \
         the done event (a webhook's delivery note): look at every entry XREAD answers, in \
         order, not only the newest, or a done event with anything after it is never seen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_gives_up_when_its_time_is_up() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let first = announce(&mut redis, "job-9", &progress(1))
        .await
        .expect("announce returned an error");
    let mut waiter = env.redis().await;

    // Nothing more happens to the job.
    let (quiet, sent) = recorded_wait(
        &env,
        &mut waiter,
        "job-9",
        Some(&first),
        Duration::from_millis(300),
        Duration::from_secs(4),
    )
    .await;
    let quiet = quiet.unwrap_or_else(|| {
        panic!(
            "wait_for_done was still waiting 4 s into a 300 ms wait: BLOCK takes milliseconds \
             (`timeout.as_millis()`, 300 here, where `as_secs()` gives 0), and BLOCK 0 means \
             wait for ever; it sent {}",
            listing_of(&reads(&sent))
        )
    });
    assert_eq!(
        quiet.expect("wait_for_done returned an error"),
        None,
        "nothing announced `job-9` done, so a 300 ms wait must end with None"
    );
    let blocks: Vec<u64> = reads(&sent)
        .into_iter()
        .filter_map(RedisCommand::block_millis)
        .collect();
    assert!(
        !blocks.is_empty() && blocks.iter().all(|ms| (1..=300).contains(ms)),
        "each XREAD of a 300 ms wait must block for the time left, in milliseconds: never more \
         than 300, and never 0, which means for ever; wait_for_done sent {}",
        listing_of(&reads(&sent))
    );

    // No time at all: the wait ends at once, and must not panic on the way.
    let mut hurried = env.redis().await;
    let seen_first = first.clone();
    let zero = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(2),
            wait_for_done(&mut hurried, "job-9", Some(&seen_first), Duration::ZERO),
        )
        .await
    })
    .await
    .unwrap_or_else(|error| {
        let why = error
            .try_into_panic()
            .ok()
            .and_then(|payload| {
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            })
            .unwrap_or_default();
        panic!(
            "wait_for_done panicked when given no time at all (a timeout of 0): {why}. A common \
             cause: subtracting the time spent from the timeout, which underflows once the time \
             is up. Count what is left with `deadline.saturating_duration_since(Instant::now())` \
             (or `timeout.saturating_sub(started.elapsed())`), and stop when it is zero"
        )
    })
    .unwrap_or_else(|_| {
        panic!(
            "a wait given no time at all (a timeout of 0) was still waiting 2 s later: with no \
             time left, answer None without reading (XREAD BLOCK 0 would wait for ever)"
        )
    });
    assert!(
        matches!(zero, Ok(None)),
        "a wait given no time at all (a timeout of 0) must end at once with None, as nothing \
         announced `job-9` done; it answered {zero:?}"
    );

    // No last id: the wait reads from the very first entry.
    let (fresh, sent) = recorded_wait(
        &env,
        &mut waiter,
        "job-9",
        None,
        Duration::from_millis(300),
        Duration::from_secs(4),
    )
    .await;
    let read = reads(&sent);
    let from_now = read
        .iter()
        .any(|command| command.name == "XREAD" && command.args.last().is_some_and(|id| id == "$"));
    assert!(
        !from_now,
        "a 300 ms wait with no last id sent {}: XREAD from `$` reads only entries added after \
         that XREAD arrives, so an event added between a look at the stream and the XREAD is \
         never seen (the done event among them, and the wait then lasts until its time is up). \
         With no last id, read from `0`, the very first entry, then after the last entry read",
        listing_of(&read)
    );
    assert!(
        matches!(fresh, Some(Ok(None))),
        "nothing announced `job-9` done, so a 300 ms wait with no last id must end with None \
         when its time is up (reading every entry from the first, none of them the end); it \
         answered {fresh:?}{} and sent {}",
        if fresh.is_none() {
            " (still waiting 4 s later)"
        } else {
            ""
        },
        listing_of(&read)
    );

    // An entry this code does not know (written by a newer version of the
    // service, say) is the last of the stream: the wait must step over it.
    // On a job of its own, so the other steps read only known entries.
    let seen = announce(&mut redis, "job-audit", &progress(1))
        .await
        .expect("announce returned an error");
    an_unknown_entry_in_the_events_of(&mut redis, "job-audit", ["audit", "by", "support"]).await;
    let (stepped, sent) = recorded_wait(
        &env,
        &mut waiter,
        "job-audit",
        Some(&seen),
        Duration::from_millis(300),
        Duration::from_secs(4),
    )
    .await;
    let read = reads(&sent);
    assert!(
        matches!(stepped, Some(Ok(None))) && read.len() <= 6,
        "after the last progress event it saw, `events:job-audit` holds an entry this code does not \
         know (`type audit`, for which `Event::from_fields` gives None); a 300 ms wait answered \
         {stepped:?} and sent {} reads ({}). Move the last id seen past every entry read, known \
         or not, or the next XREAD answers the same entry at once, and again, and the wait \
         becomes a busy loop",
        read.len(),
        listing_of(&read)
    );

    // A key of the wrong type makes Redis refuse the XREAD (WRONGTYPE).
    a_string_under_the_events_of(&mut redis, "job-text").await;
    let refused = tokio::time::timeout(
        Duration::from_secs(4),
        wait_for_done(&mut waiter, "job-text", None, Duration::from_millis(300)),
    )
    .await
    .expect("wait_for_done was still waiting 4 s into a 300 ms wait");
    assert!(
        refused.is_err(),
        "`events:job-text` held a string, not a stream, so Redis refused the XREAD (WRONGTYPE), \
         yet wait_for_done answered {refused:?}: a read that failed is not a wait whose time ran \
         out. `None` tells the caller the job is still running, when nobody could look; pass \
         Redis's error on with `?`, so that the caller can answer \"unavailable\" instead"
    );

    // Progress keeps coming, every 150 ms, for longer than the wait.
    let mut worker = env.redis().await;
    let reporting = tokio::spawn(async move {
        for done in 2..=15 {
            // The pace is the point here: events spread over time.
            tokio::time::sleep(Duration::from_millis(150)).await;
            announce(&mut worker, "job-9", &progress(done)).await?;
        }
        Ok::<_, lab::redis::RedisError>(())
    });
    let (busy, sent) = recorded_wait(
        &env,
        &mut waiter,
        "job-9",
        Some(&first),
        Duration::from_millis(800),
        Duration::from_secs(10),
    )
    .await;
    reporting
        .await
        .expect("the announcing task panicked")
        .expect("announce returned an error");
    let busy = busy
        .expect("wait_for_done was still waiting 10 s into an 800 ms wait")
        .expect("wait_for_done returned an error");
    assert_eq!(
        busy, None,
        "progress events are not the end: after 800 ms of progress and no done event, the wait \
         must end with None"
    );
    let blocks: Vec<u64> = reads(&sent)
        .into_iter()
        .filter_map(RedisCommand::block_millis)
        .collect();
    let shrinks = blocks.iter().all(|ms| (1..=800).contains(ms))
        && (blocks.len() < 2 || blocks.last() < blocks.first());
    assert!(
        shrinks,
        "while progress keeps arriving, each XREAD must block only for the time left until the \
         deadline (set once, before the first read), or a job that keeps reporting keeps its \
         waiter waiting far past its timeout; the XREADs of an 800 ms wait blocked for {blocks:?} ms"
    );

    // Less than a millisecond to wait: `as_millis()` of what is left is 0,
    // and BLOCK 0 would wait for ever. Last, on a connection of its own,
    // since a wrong answer leaves it blocked, and on a job whose stream has
    // nothing after the last id, so only a blocking read can answer. Tried
    // a few times, in case the thread is held up long enough for the time
    // to run out before the first read.
    let last = announce(&mut redis, "job-brief", &progress(1))
        .await
        .expect("announce returned an error");
    let mut brief = env.redis().await;
    for _ in 0..3 {
        let (outcome, sent) = recorded_wait(
            &env,
            &mut brief,
            "job-brief",
            Some(&last),
            Duration::from_micros(900),
            Duration::from_secs(3),
        )
        .await;
        let read = reads(&sent);
        let blocks: Vec<u64> = read.iter().filter_map(|c| c.block_millis()).collect();
        assert!(
            outcome.is_some() && !blocks.contains(&0),
            "a wait of 900 µs sent {}{}: BLOCK takes whole milliseconds, and BLOCK 0 means wait \
             for ever, so the time left must be rounded up to at least 1 ms \
             (`left.as_millis().max(1)`), never down to 0 (or not read at all when under a \
             millisecond is left); at the end of any wait there comes such a last moment",
            listing_of(&read),
            if outcome.is_some() {
                ""
            } else {
                ", and was still waiting 3 s later"
            }
        );
        let answer = outcome.map(|answer| answer.ok());
        assert_eq!(
            answer,
            Some(Some(None)),
            "nothing announced `job-brief` done, so a 900 µs wait must end with None, not an error"
        );
    }
}
