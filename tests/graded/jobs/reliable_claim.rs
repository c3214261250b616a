//! Graded tests of the reliable claim exercise, shared by `exercises` and
//! `solutions`. Redis is the test's own.
//!
//! A ticket must never exist only in a worker's memory: the claim moves it
//! from the queue to the processing list in one atomic command (LMOVE, or
//! BLMOVE, RPOPLPUSH, or one script), the acknowledgement removes exactly
//! that ticket (LREM with count 1), and recovery moves tickets back one
//! atomic move at a time. The tests check the commands sent as well as the
//! lists, run many workers at once, and make Redis fail to see that enqueue,
//! claim, ack and recover pass its errors on. Either direction (LPUSH with LMOVE
//! RIGHT LEFT, or RPUSH with LMOVE LEFT RIGHT) is right: order is checked
//! through `claim`, never by reading the lists in order.

use std::collections::BTreeMap;
use std::time::Duration;

use super::reliable_claim::*;
use lab::redis::AsyncCommands;
use lab::redis::aio::ConnectionManager;
use lab::testing::redis_log::Context;
use lab::testing::{RedisCommand, RedisLog, TestEnv, inspect};

const QUEUE: &str = "queue:reports";
const PROCESSING: &str = "processing:reports";
const MOVES: [&str; 4] = ["LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH"];

/// A ticket as the job system would queue it: JSON text, removed by value.
fn ticket(n: usize) -> String {
    format!(r#"{{"id":"{n}","report":"revenue"}}"#)
}

/// Whether `command` atomically moves a ticket from `from` to `to`.
fn is_move(command: &RedisCommand, from: &str, to: &str) -> bool {
    MOVES.contains(&command.name.as_str())
        && command.args.first().map(String::as_str) == Some(from)
        && command.args.get(1).map(String::as_str) == Some(to)
}

/// Commands that only read a list, which recovery may send besides its
/// moves (LLEN, to bound the moves by the tickets held when it started).
const LIST_READS: [&str; 4] = ["LLEN", "LRANGE", "LINDEX", "EXISTS"];

/// Whether the log is one move from `from` to `to`, or one script (which
/// Redis runs atomically).
fn moved_in_one_step(sent: &RedisLog, from: &str, to: &str) -> bool {
    match sent.data_commands().as_slice() {
        [] => false,
        [one] => is_move(one, from, to),
        many => many.iter().all(|c| c.context == Context::Script),
    }
}

/// Both lists, each sorted: which tickets are where, whatever the direction.
async fn lists(redis: &mut ConnectionManager) -> (Vec<String>, Vec<String>) {
    let mut queue: Vec<String> = redis.lrange(QUEUE, 0, -1).await.unwrap();
    let mut processing: Vec<String> = redis.lrange(PROCESSING, 0, -1).await.unwrap();
    queue.sort();
    processing.sort();
    (queue, processing)
}

#[tokio::test]
async fn a_claim_moves_the_oldest_ticket_to_the_processing_list() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    enqueue(&mut redis, "reports", &ticket(1))
        .await
        .expect("enqueue returned an error");
    let sent = recording.finish().await;
    let pushed_once = match sent.data_commands().as_slice() {
        [one] => {
            matches!(one.name.as_str(), "LPUSH" | "RPUSH")
                && one.args.first().map(String::as_str) == Some(QUEUE)
        }
        _ => false,
    };
    assert!(
        pushed_once,
        "queuing a ticket is one push onto `queue:{{name}}` (LPUSH queue:reports <ticket>): \
         enqueue sent {}",
        sent.listing()
    );
    for n in [2, 3] {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    let recording = env.record_redis().await;
    let claimed = claim(&mut redis, "reports")
        .await
        .expect("claim returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        claimed,
        Some(ticket(1)),
        "the oldest ticket is claimed first: LMOVE takes from the end opposite the push (RIGHT \
         after LPUSH), and returns the ticket exactly as queued"
    );
    // A move that is one step, sent after reads that ask about the queue
    // first: no ticket can be lost, but the question costs a round trip.
    let data = sent.data_commands();
    let asked_first = data.len() > 1
        && data
            .last()
            .is_some_and(|last| is_move(last, QUEUE, PROCESSING))
        && data[..data.len() - 1]
            .iter()
            .all(|command| LIST_READS.contains(&command.name.as_str()));
    assert!(
        moved_in_one_step(&sent, QUEUE, PROCESSING),
        "{}",
        if asked_first {
            format!(
                "claim sent {}: there is no need to ask first whether a ticket waits, LMOVE \
                 answers nil on an empty queue; asking is a second round trip on every claim, \
                 and its answer can be stale by the time the LMOVE runs. Claim with one LMOVE",
                sent.listing()
            )
        } else {
            format!(
                "claim sent {}: a worker that dies between taking the ticket and keeping its \
                 copy loses the job, as with RPOP alone; the claim must be one LMOVE from \
                 `queue:reports` to `processing:reports` (LMOVE queue:reports processing:reports \
                 RIGHT LEFT, or BLMOVE, or RPOPLPUSH), which moves the ticket in one atomic step, \
                 so it is always on one of the two lists",
                sent.listing()
            )
        }
    );
    let (queue, processing) = lists(&mut redis).await;
    assert_eq!(
        processing,
        [ticket(1)],
        "the claimed ticket is kept in `processing:{{name}}` until it is acknowledged: that copy \
         is what recovery puts back if the worker dies"
    );
    assert_eq!(
        queue,
        [ticket(2), ticket(3)],
        "the tickets not claimed yet stay on `queue:reports`"
    );
    // Three seconds: less than the test connection's own five-second
    // deadline, so a claim that blocks is named as one.
    let recording = env.record_redis().await;
    let waited = tokio::time::timeout(Duration::from_secs(3), claim(&mut redis, "nothing")).await;
    let sent = recording.finish().await;
    let on_empty = waited
        .unwrap_or_else(|_| panic!("{}", sent.empty_queue_stall(3, "LMOVE")))
        .expect("claim returned an error on an empty queue");
    assert_eq!(
        on_empty, None,
        "a claim on an empty queue gives `None`: LMOVE answers nil"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        [PROCESSING, QUEUE],
        "a claim on an empty queue must not write anything, and a claim keeps its copy in \
         `processing:{{name}}` only"
    );
    // A queue that holds a string: LMOVE answers WRONGTYPE.
    let _: () = redis.set("queue:broken", "not a list").await.unwrap();
    let outcome = claim(&mut redis, "broken").await;
    assert!(
        outcome.is_err(),
        "when Redis fails the LMOVE (here `queue:broken` holds a string, so LMOVE answers \
         WRONGTYPE), claim must return that error (`?`, or return what `lmove` answers), it \
         answered {outcome:?}: a failed claim is not an empty queue; a worker that reads it as \
         `None` idles as if no ticket were waiting, and nobody learns that the queue is broken"
    );
    // The same queue refuses a push too (WRONGTYPE).
    let outcome = enqueue(&mut redis, "broken", &ticket(9)).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the push (here `queue:broken` holds a string, WRONGTYPE), enqueue \
         must return that error, it answered {outcome:?}: after a failed push the ticket is on \
         no list, and a producer told Ok believes a job was queued that will never run"
    );
}

#[tokio::test]
async fn an_acknowledged_ticket_is_gone_for_good() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 1..=4 {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    for _ in 1..=3 {
        claim(&mut redis, "reports")
            .await
            .expect("claim returned an error")
            .expect("claim gave `None` while tickets were waiting");
    }
    // The middle claim finishes first: a pop at either end takes another.
    let recording = env.record_redis().await;
    let acknowledged = ack(&mut redis, "reports", &ticket(2))
        .await
        .expect("ack returned an error");
    let sent = recording.finish().await;
    assert!(
        acknowledged,
        "acknowledging a ticket that is in `processing:reports` answers true"
    );
    let one_lrem = match sent.data_commands().as_slice() {
        [one] => {
            one.name == "LREM"
                && one.args.first().map(String::as_str) == Some(PROCESSING)
                && matches!(one.args.get(1).map(String::as_str), Some("1" | "-1"))
                && one.args.get(2) == Some(&ticket(2))
        }
        _ => false,
    };
    assert!(
        one_lrem,
        "ack sent {}: acknowledging is one LREM processing:reports 1 <ticket>: it removes exactly \
         that ticket, wherever it is in the list, with count 1 (one copy, since two workers can \
         hold equal tickets), and its answer says whether it was there; a pop removes whichever \
         ticket is at the end",
        sent.listing()
    );
    let (queue, processing) = lists(&mut redis).await;
    assert_eq!(
        processing,
        [ticket(1), ticket(3)],
        "ack removes the acknowledged ticket from `processing:reports` and only that one: the \
         others are still being worked on"
    );
    assert_eq!(queue, [ticket(4)], "ack leaves `queue:reports` alone");
    assert!(
        !ack(&mut redis, "reports", &ticket(2))
            .await
            .expect("ack returned an error"),
        "an acknowledged ticket is gone: a second ack of it answers false (LREM answers 0)"
    );
    assert!(
        ack(&mut redis, "reports", &ticket(3))
            .await
            .expect("ack returned an error"),
        "acknowledging a ticket that is in `processing:reports` answers true"
    );
    // One ticket on each list: the snapshot cannot depend on the direction.
    lab::graded_snapshot!(
        "jobs_reliable_claim_one_waiting_one_claimed",
        inspect::dump(&mut redis).await,
        "after four tickets queued, three claimed and two of those acknowledged, Redis must \
         hold the fourth ticket on `queue:reports` and the first, claimed and not acknowledged, \
         on `processing:reports`, exactly as queued, and nothing else"
    );
    // Two workers hold equal tickets; one acknowledges.
    for _ in 0..2 {
        enqueue(&mut redis, "reports", &ticket(9))
            .await
            .expect("enqueue returned an error");
    }
    for _ in 0..3 {
        claim(&mut redis, "reports")
            .await
            .expect("claim returned an error")
            .expect("claim gave `None` while tickets were waiting");
    }
    assert!(
        ack(&mut redis, "reports", &ticket(9))
            .await
            .expect("ack returned an error"),
        "acknowledging a ticket that is in `processing:reports` answers true"
    );
    let (_, processing) = lists(&mut redis).await;
    assert_eq!(
        processing.iter().filter(|t| **t == ticket(9)).count(),
        1,
        "two workers held equal tickets and one acknowledged: ack must remove one copy (LREM \
         with count 1); count 0 removes every copy, and the other worker's job could no longer \
         be recovered if it died"
    );
    // A processing list that holds a string: LREM answers WRONGTYPE.
    let _: () = redis.set("processing:broken", "not a list").await.unwrap();
    let outcome = ack(&mut redis, "broken", &ticket(1)).await;
    assert!(
        outcome.is_err(),
        "when Redis fails the LREM (here `processing:broken` holds a string, so LREM answers \
         WRONGTYPE), ack must return that error (`?` on the LREM), it answered {outcome:?}: a \
         failed ack is not \"not held\"; the worker would take its ticket for acknowledged \
         while the ticket stays in `processing:{{name}}`, and the next recover puts it back, so \
         the job runs twice"
    );
}

#[tokio::test]
async fn tickets_of_a_dead_worker_are_recovered_in_their_order() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 1..=4 {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    // A worker claims three and finishes one, then dies.
    let first = claim(&mut redis, "reports")
        .await
        .expect("claim returned an error")
        .expect("claim gave `None` while tickets were waiting");
    for _ in 0..2 {
        claim(&mut redis, "reports")
            .await
            .expect("claim returned an error");
    }
    ack(&mut redis, "reports", &first)
        .await
        .expect("ack returned an error");
    let recording = env.record_redis().await;
    let recovered = recover(&mut redis, "reports")
        .await
        .expect("recover returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        recovered, 2,
        "recover answers how many tickets it put back: the dead worker held 2 unacknowledged"
    );
    let data = sent.data_commands();
    let moves = |c: &&RedisCommand| c.context == Context::Script || is_move(c, PROCESSING, QUEUE);
    let one_move_at_a_time = data.iter().any(moves)
        && data
            .iter()
            .all(|c| moves(c) || LIST_READS.contains(&c.name.as_str()));
    assert!(
        one_move_at_a_time,
        "recover sent {}: move each ticket back with its own LMOVE from `processing:reports` to \
         `queue:reports`, one LMOVE at a time, so that every ticket is always on one of the two \
         lists (asking LLEN first to bound the moves is fine); reading the list (LRANGE), \
         deleting it and pushing the tickets back loses them all if the process dies in \
         between, and undoes an ack that comes in between",
        sent.listing()
    );
    assert_eq!(
        inspect::key_type(&mut redis, PROCESSING).await,
        "none",
        "after recovery nothing is left in `processing:reports`"
    );
    let mut order = Vec::new();
    while let Some(claimed) = claim(&mut redis, "reports")
        .await
        .expect("claim returned an error")
    {
        order.push(claimed);
        if order.len() > 4 {
            break;
        }
    }
    assert_eq!(
        order,
        [ticket(2), ticket(3), ticket(4)],
        "after recovery the tickets must be claimed oldest first, nothing lost: recover puts \
         them back at the front of the queue (the end claim takes from), the newest claim \
         first, so that the oldest ends up in the very front"
    );
    assert_eq!(
        recover(&mut redis, "reports")
            .await
            .expect("recover returned an error"),
        3,
        "recover puts back every unacknowledged ticket: 3 claimed, none acknowledged"
    );
    assert_eq!(
        recover(&mut redis, "reports")
            .await
            .expect("recover returned an error"),
        0,
        "with nothing in `processing:reports`, recover answers 0"
    );
    // Two tickets held, and a queue key that holds a string: moving a ticket
    // back answers WRONGTYPE.
    let _: i64 = redis
        .rpush("processing:broken", vec![ticket(1), ticket(2)])
        .await
        .unwrap();
    let _: () = redis.set("queue:broken", "not a list").await.unwrap();
    let outcome = recover(&mut redis, "broken").await;
    assert!(
        outcome.is_err(),
        "when Redis fails the move back (here `queue:broken` holds a string, so LMOVE answers \
         WRONGTYPE), recover must return that error (`?` on each LMOVE), it answered \
         {outcome:?}: stopping quietly as if the processing list were empty tells the caller \
         recovery is done while the dead worker's tickets are still stuck in \
         `processing:{{name}}`, where no worker will ever claim them"
    );
}

/// Every ticket and how many times it appears.
fn tally(tickets: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for ticket in tickets {
        *counts.entry(ticket.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn nothing_is_lost_when_many_workers_claim_and_some_die() {
    const TICKETS: usize = 120;
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 0..TICKETS {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    let expected: BTreeMap<String, usize> = (0..TICKETS).map(|n| (ticket(n), 1)).collect();
    let mut connections = Vec::new();
    for _ in 0..4 {
        connections.push(env.redis().await);
    }
    // 16 workers claim at once until the queue is empty.
    let workers: Vec<_> = (0..16)
        .map(|n| {
            let mut redis = connections[n % connections.len()].clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                // A bound, so a claim that never gives `None` still ends.
                for _ in 0..2 * TICKETS {
                    match claim(&mut redis, "reports").await? {
                        Some(ticket) => taken.push(ticket),
                        None => break,
                    }
                }
                Ok::<_, lab::redis::RedisError>(taken)
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(
            worker
                .await
                .expect("claim panicked")
                .expect("claim returned an error"),
        );
    }
    assert_eq!(
        tally(&claimed),
        expected,
        "16 workers claiming at once must get each of the 120 tickets exactly once: the claim \
         must be one atomic LMOVE, so no ticket goes to two workers and none is lost"
    );
    let (queue, processing) = lists(&mut redis).await;
    assert!(
        queue.is_empty() && tally(&processing) == expected,
        "after 120 claims and no acknowledgement, every ticket must be in `processing:reports` \
         once and none left on `queue:reports`: {} waiting, {} processing",
        queue.len(),
        processing.len()
    );
    // Every worker died: all go back.
    assert_eq!(
        recover(&mut redis, "reports")
            .await
            .expect("recover returned an error"),
        TICKETS as u64,
        "recover puts back every unacknowledged ticket: 120"
    );
    // Rounds of 16 claims at once; every third worker dies before its ack.
    let mut done = Vec::new();
    for round in 0..=TICKETS {
        let claims: Vec<_> = (0..16)
            .map(|n| {
                let mut redis = connections[n % connections.len()].clone();
                tokio::spawn(async move { claim(&mut redis, "reports").await })
            })
            .collect();
        let mut claimed = Vec::new();
        for one in claims {
            claimed.extend(
                one.await
                    .expect("claim panicked")
                    .expect("claim returned an error"),
            );
        }
        if claimed.is_empty() {
            break;
        }
        assert!(
            tally(&claimed).values().all(|count| *count == 1),
            "16 workers claiming at once got the same ticket twice: the claim must be one atomic \
             LMOVE"
        );
        for (n, ticket) in claimed.into_iter().enumerate() {
            if (n + round) % 3 != 0 {
                assert!(
                    ack(&mut redis, "reports", &ticket)
                        .await
                        .expect("ack returned an error"),
                    "a ticket just claimed is in `processing:reports`, so acknowledging it \
                     answers true"
                );
                done.push(ticket);
            }
        }
        recover(&mut redis, "reports")
            .await
            .expect("recover returned an error");
    }
    assert_eq!(
        tally(&done),
        expected,
        "with workers dying before their ack and recovery after each round, every ticket must \
         be done exactly once: nothing lost, nothing twice"
    );
    let keys = inspect::keys(&mut redis).await;
    assert!(
        keys.is_empty(),
        "once every ticket is acknowledged both lists are empty, and nothing else is left: \
         Redis holds {keys:?}"
    );

    // After a long outage: ten thousand tickets held by workers that died.
    const HELD: usize = 10_000;
    let held: Vec<String> = (0..HELD).map(|n| format!("held-{n}")).collect();
    for chunk in held.chunks(1000) {
        let _: u64 = redis.rpush(processing_key("big"), chunk).await.unwrap();
    }
    let recovered = recover(&mut redis, "big").await;
    let queued: u64 = redis.llen(queue_key("big")).await.unwrap();
    let processing: u64 = redis.llen(processing_key("big")).await.unwrap();
    assert!(
        matches!(recovered, Ok(n) if n == HELD as u64) && queued == HELD as u64 && processing == 0,
        "after a long outage {HELD} tickets were held in `processing:big`; recover answered \
         {recovered:?} and left {queued} in the queue, {processing} still held. Recovery must \
         work for any number of held tickets: a Lua script that spreads them all into one \
         command with `unpack` fails past about 8000 values (and holds Redis for the whole \
         list); move them one at a time (LMOVE in a loop), each move atomic"
    );
}
