//! Graded tests of the list queue exercise, shared by `exercises` and
//! `solutions`. Redis is the test's own.
//!
//! A list used from both ends is a queue: a push at one end, one pop at the
//! other, and the job's status in the hash `job:{id}`. The tests check the
//! commands sent as well as the results: the pop must be one command (it
//! reads and removes atomically), the status must be written before the
//! ticket can be claimed, and nothing but the list and the hashes is left
//! behind. Either direction (LPUSH with RPOP, or RPUSH with LPOP) is right.

use std::collections::BTreeSet;

use super::list_queue::*;
use lab::redis::aio::ConnectionManager;
use lab::redis::{AsyncCommands, RedisResult};
use lab::testing::redis_log::Context;
use lab::testing::{RedisCommand, TestEnv, inspect};

const PUSHES: [&str; 2] = ["LPUSH", "RPUSH"];
const POPS: [&str; 4] = ["RPOP", "LPOP", "BRPOP", "BLPOP"];
const STATUS_WRITES: [&str; 2] = ["HSET", "HMSET"];

fn ticket(n: usize) -> Ticket {
    Ticket {
        id: format!("job-{n}"),
        report: "revenue".to_owned(),
    }
}

fn is_one_of(command: &RedisCommand, names: &[&str]) -> bool {
    names.contains(&command.name.as_str())
}

/// Whether `command` is any pop from a list.
fn is_pop(command: &RedisCommand) -> bool {
    is_one_of(command, &POPS) || is_one_of(command, &["LMPOP", "BLMPOP"])
}

/// Whether `command` writes `status` into the `status` field of `job:{id}`.
fn writes_status(command: &RedisCommand, id: &str, status: &str) -> bool {
    is_one_of(command, &STATUS_WRITES)
        && command.args.first().map(String::as_str) == Some(&format!("job:{id}"))
        && command
            .args
            .windows(2)
            .any(|pair| pair[0] == "status" && pair[1] == status)
}

/// Queues ticket `n` on queue `name` from a task of its own, as a producer's
/// task would, so that a panic in enqueue fails the test with `if_panicked`
/// rather than with the answer's own `expect` text.
async fn enqueue_on_own_task(
    redis: &ConnectionManager,
    name: &'static str,
    n: usize,
    if_panicked: &str,
) -> RedisResult<u64> {
    let mut producer = redis.clone();
    tokio::spawn(async move { enqueue(&mut producer, name, &ticket(n)).await })
        .await
        .unwrap_or_else(|_| panic!("{if_panicked}"))
}

/// The whole database, with each queued ticket read as JSON, so that the
/// snapshot does not depend on how the JSON was spelled.
async fn normalized_dump(redis: &mut ConnectionManager) -> serde_json::Value {
    let mut all = inspect::dump(redis).await;
    if let Some(keys) = all.as_object_mut() {
        for (key, entry) in keys.iter_mut() {
            if !key.starts_with("queue:") {
                continue;
            }
            if let Some(items) = entry["value"].as_array_mut() {
                for item in items.iter_mut() {
                    let parsed = item
                        .as_str()
                        .and_then(|text| serde_json::from_str::<Ticket>(text).ok());
                    if let Some(parsed) = parsed {
                        *item = serde_json::to_value(parsed).unwrap();
                    }
                }
            }
        }
    }
    all
}

#[tokio::test]
async fn tickets_are_queued_as_json_on_the_list_and_marked_queued() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    let waiting = enqueue(&mut redis, "reports", &ticket(1))
        .await
        .expect("enqueue returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        waiting, 1,
        "enqueue answers how many tickets now wait: 1 after the first ticket (LPUSH answers the new length)"
    );
    let data = sent.data_commands();
    let pushes = data.iter().filter(|c| is_one_of(c, &PUSHES)).count();
    let status_writes = data.iter().filter(|c| is_one_of(c, &STATUS_WRITES)).count();
    assert!(
        data.len() == 2 && pushes == 1 && status_writes == 1,
        "enqueue must send one HSET of the job's status and one push of the ticket (LPUSH, which \
         answers the new length, so there is no LLEN to ask): enqueue sent {}",
        sent.listing()
    );
    let status_at = data
        .iter()
        .position(|c| writes_status(c, "job-1", "queued"));
    let push_at = data.iter().position(|c| is_one_of(c, &PUSHES));
    assert!(
        status_at.is_some(),
        "enqueue must write `queued` into the field `status` of the hash `job:job-1` (HSET \
         job:job-1 status queued, through set_status): enqueue sent {}",
        sent.listing()
    );
    // In one transaction or script nothing can come between the two.
    let together = data.iter().all(|c| c.context != Context::Client);
    assert!(
        together || status_at < push_at,
        "enqueue sent {}: once the ticket is on the list a worker can claim it and mark the job \
         running, and then enqueue's `queued` overwrites `running`; mark the job queued first \
         (set_status), then push the ticket",
        sent.listing()
    );
    assert_eq!(
        enqueue(&mut redis, "reports", &ticket(2))
            .await
            .expect("enqueue returned an error"),
        2,
        "enqueue answers how many tickets now wait: 2 after the second ticket (LPUSH answers the new length)"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "queue:reports").await,
        "list",
        "the tickets wait on a Redis list under `queue:{{name}}`, here `queue:reports`"
    );
    let stored: Vec<String> = redis.lrange("queue:reports", 0, -1).await.unwrap();
    let parsed: Vec<Option<Ticket>> = stored
        .iter()
        .map(|text| serde_json::from_str::<Ticket>(text).ok())
        .collect();
    assert!(
        parsed.iter().all(Option::is_some),
        "each ticket is pushed as its JSON (serde_json::to_string(ticket)), so that a worker in \
         any language can read it; `queue:reports` holds {stored:?}"
    );
    let ids: BTreeSet<String> = parsed.into_iter().flatten().map(|t| t.id).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["job-1".to_owned(), "job-2".to_owned()]),
        "both tickets wait on `queue:reports`, one list item per ticket"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "job:job-1").await,
        "hash",
        "a job's status lives in a hash, `job:{{id}}`, field `status` (HSET), not in a key of its own"
    );
    assert_eq!(
        status(&mut redis, "job-1")
            .await
            .expect("status returned an error")
            .as_deref(),
        Some("queued"),
        "a job just queued has the status `queued` in the field `status` of the hash `job:job-1`"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["job:job-1", "job:job-2", "queue:reports"],
        "queuing two tickets leaves the list `queue:reports` and one hash `job:{{id}}` per job, \
         no other key"
    );
    // Producers at once: each must be told the length its own push made.
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(env.redis().await);
    }
    let producers: Vec<_> = (0..30)
        .map(|n| {
            let mut redis = connections[n % connections.len()].clone();
            tokio::spawn(async move { enqueue(&mut redis, "bulk", &ticket(100 + n)).await })
        })
        .collect();
    let mut lengths = BTreeSet::new();
    for producer in producers {
        lengths.insert(
            producer
                .await
                .expect("enqueue panicked")
                .expect("enqueue returned an error"),
        );
    }
    assert_eq!(
        lengths,
        (1..=30).collect::<BTreeSet<u64>>(),
        "30 producers queuing at once must each be told a different length, 1 to 30: answer \
         LPUSH's own reply; asking LLEN afterwards counts the other producers' tickets too"
    );
    // A key of the wrong type makes Redis refuse the status (WRONGTYPE).
    let () = redis.set("job:job-9", "not a hash").await.unwrap();
    let outcome = enqueue_on_own_task(
        &redis,
        "reports",
        9,
        "`job:job-9` held a string, not a hash, so Redis refused the HSET of the job's status \
         (WRONGTYPE), and enqueue panicked: the producer's whole task dies where it should be \
         told its job could not be queued; pass set_status's error on with `?` (the doc: 'If \
         Redis refuses the status, that error is returned') instead of unwrapping it",
    )
    .await;
    assert!(
        outcome.is_err(),
        "`job:job-9` held a string, not a hash, so Redis refused the HSET of the job's status \
         (WRONGTYPE), yet enqueue answered {outcome:?}: a ticket without its `queued` status is \
         a job that status() calls unknown, and the producer is told all went well; pass \
         set_status's error on with `?` (before the push, so the ticket is not queued either)"
    );
    // A queue key of the wrong type makes Redis refuse the push (WRONGTYPE).
    let () = redis.set("queue:jammed", "not a list").await.unwrap();
    let outcome = enqueue_on_own_task(
        &redis,
        "jammed",
        10,
        "`queue:jammed` held a string, not a list, so Redis refused the LPUSH (WRONGTYPE), and \
         enqueue panicked: the producer's whole task dies where it should be told its ticket \
         waits on no list; return the push's answer as it is (`redis.lpush(..).await`, or `?`), \
         errors included, instead of unwrapping it",
    )
    .await;
    assert!(
        outcome.is_err(),
        "`queue:jammed` held a string, not a list, so Redis refused the LPUSH (WRONGTYPE), yet \
         enqueue answered {outcome:?}: the ticket is on no list, so no worker will ever claim \
         the job, while the producer is told it waits in line; return the push's answer as it \
         is (`redis.lpush(..).await`, or `?`), errors included"
    );
}

#[tokio::test]
async fn the_oldest_ticket_is_claimed_first_and_marked_running() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 1..=3 {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    let recording = env.record_redis().await;
    let first = claim(&mut redis, "reports")
        .await
        .expect("claim returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        first,
        Some(ticket(1)),
        "the oldest ticket is claimed first: push at one end (LPUSH) and pop at the other (RPOP); \
         popping at the end you push to makes a stack, where the newest goes first"
    );
    let marked: Option<String> = redis.hget("job:job-1", "status").await.unwrap();
    assert_eq!(
        marked.as_deref(),
        Some("running"),
        "claim took job-1's ticket, yet the field `status` of `job:job-1` holds {marked:?}: claim \
         must overwrite enqueue's `queued` with `running` (HSET job:job-1 status running, through \
         set_status); HSETNX writes a field only if it is not there yet, and enqueue has already \
         written `queued` into it, so HSETNX never overwrites it. Claim sent {}",
        sent.listing()
    );
    let data = sent.data_commands();
    let pops: Vec<&&RedisCommand> = data.iter().filter(|c| is_pop(c)).collect();
    let popped_once = pops.len() == 1
        && pops[0].pops_one_from("queue:reports")
        && data
            .iter()
            .all(|c| is_pop(c) || is_one_of(c, &STATUS_WRITES));
    assert!(
        popped_once,
        "claim sent {}: a worker must take the ticket from `queue:reports` with one pop (RPOP, \
         or LMPOP of that one list), \
         which reads and removes it in one atomic step; reading it first (LINDEX, LRANGE) and \
         removing it afterwards lets two workers take the same ticket",
        sent.listing()
    );
    assert!(
        data.iter().any(|c| writes_status(c, "job-1", "running")),
        "claim must mark the job it took as running (HSET job:job-1 status running, through \
         set_status): claim sent {}",
        sent.listing()
    );
    assert_eq!(
        claim(&mut redis, "reports")
            .await
            .expect("claim returned an error"),
        Some(ticket(2)),
        "the next claim takes the next oldest ticket"
    );
    assert_eq!(
        status(&mut redis, "job-2")
            .await
            .expect("status returned an error")
            .as_deref(),
        Some("running"),
        "a claimed job's status is `running`"
    );
    assert_eq!(
        status(&mut redis, "job-3")
            .await
            .expect("status returned an error")
            .as_deref(),
        Some("queued"),
        "a job nobody claimed yet is still `queued`"
    );
    // One ticket left on the list: its order cannot depend on the direction.
    lab::graded_snapshot!(
        "jobs_list_queue_after_two_claims",
        normalized_dump(&mut redis).await,
        "after three tickets queued and two claimed, Redis must hold `queue:reports` with the \
         third ticket as JSON, and the hashes `job:job-1` and `job:job-2` with status `running` \
         and `job:job-3` with status `queued`, and nothing else"
    );
    // A producer with a bug (in any language) pushes a ticket that is not
    // one: text that is not JSON, or JSON without a ticket's fields.
    for bad in ["not a ticket", r#"{"report": "revenue"}"#] {
        let _: u64 = redis.lpush("queue:broken", bad).await.unwrap();
        let mut worker = redis.clone();
        let outcome = tokio::spawn(async move { claim(&mut worker, "broken").await }).await;
        match outcome {
            Err(_) => panic!(
                "claim popped a ticket that is not a Ticket's JSON (`queue:broken` held {bad:?}, \
                 as a producer with a bug could push) and panicked: one bad ticket must not kill \
                 the worker that takes it, nor, one by one, every worker; handle \
                 serde_json::from_str's error (answer an error, or `None`) instead of unwrapping it"
            ),
            Ok(Ok(Some(ticket))) => panic!(
                "`queue:broken` held {bad:?}, which is not a Ticket's JSON (a ticket has an `id` \
                 and a `report`), yet claim answered {ticket:?}: read it as a `Ticket` with \
                 serde_json::from_str, which refuses a missing field, rather than filling in \
                 what is missing"
            ),
            Ok(Ok(None) | Err(_)) => {}
        }
        let keys = inspect::keys(&mut redis).await;
        assert!(
            !keys.iter().any(|key| key == "job:"),
            "`queue:broken` held {bad:?}, which is not a Ticket's JSON, and claim marked a job \
             without an id (`job:`) running: mark a job only once its ticket has been read whole; \
             the keys are now {keys:?}"
        );
    }
    // A good ticket queued after the bad one must be the next one claimed.
    enqueue(&mut redis, "broken", &ticket(4))
        .await
        .expect("enqueue returned an error");
    let next = claim(&mut redis, "broken").await;
    assert!(
        matches!(&next, Ok(Some(claimed)) if *claimed == ticket(4)),
        "`queue:broken` held \"not a ticket\", claim took it, and then job-4's good ticket was \
         queued, yet the next claim answered {next:?}, not job-4's ticket: a bad ticket pushed \
         back where the pop takes from is popped again by every claim, and jams the queue for \
         the good tickets behind it; leave it off the list (or move it to a list of its own for \
         someone to look at)"
    );
    // A job whose hash became something else: the claim's HSET is refused
    // (WRONGTYPE), and the worker must hear of it.
    enqueue(&mut redis, "broken", &ticket(5))
        .await
        .expect("enqueue returned an error");
    let () = redis.set("job:job-5", "not a hash").await.unwrap();
    let outcome = claim(&mut redis, "broken").await;
    assert!(
        outcome.is_err(),
        "`job:job-5` held a string, not a hash, so Redis refused to mark the claimed ticket \
         running (WRONGTYPE), yet claim answered {outcome:?}: a claim whose status write failed \
         leaves the job shown as queued while it runs; pass Redis's error on with `?`"
    );
}

#[tokio::test]
async fn an_empty_queue_gives_none_and_an_unknown_job_has_no_status() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    // Three seconds: less than the test connection's own five-second
    // deadline, so a claim that blocks is named as one.
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        claim(&mut redis, "reports"),
    )
    .await;
    let sent = recording.finish().await;
    let nothing = waited
        .unwrap_or_else(|_| panic!("{}", sent.empty_queue_stall(3, "RPOP")))
        .expect("claim returned an error on an empty queue");
    assert_eq!(
        nothing, None,
        "a claim on an empty queue gives `None`: RPOP answers nil"
    );
    assert!(
        !sent.used_any(&STATUS_WRITES),
        "a claim that took nothing must not write any status: claim sent {}",
        sent.listing()
    );
    let recording = env.record_redis().await;
    let unknown = status(&mut redis, "job-404")
        .await
        .expect("status returned an error for an unknown job");
    let sent = recording.finish().await;
    assert_eq!(
        unknown, None,
        "an unknown job has no status: HGET of a missing hash answers nil, which is `None`"
    );
    let one_hget = match sent.data_commands().as_slice() {
        [one] => is_one_of(one, &["HGET", "HMGET"]) && one.args == ["job:job-404", "status"],
        _ => false,
    };
    assert!(
        one_hget,
        "a status is read with one HGET job:{{id}} status: HGET answers nil for an unknown job \
         (no need to ask HEXISTS first, a second round trip) and reads only that field (HGETALL \
         reads the whole hash to use one field); status sent {}",
        sent.listing()
    );
    let keys = inspect::keys(&mut redis).await;
    assert!(
        keys.is_empty(),
        "claiming from an empty queue and asking an unknown job's status must not write \
         anything; Redis now holds {keys:?}"
    );
    // A key of the wrong type makes Redis refuse the pop (WRONGTYPE).
    let () = redis.set("queue:reports", "not a list").await.unwrap();
    let outcome = claim(&mut redis, "reports").await;
    assert!(
        outcome.is_err(),
        "`queue:reports` held a string, not a list, so Redis refused the pop (WRONGTYPE), yet \
         claim answered {outcome:?}: a failed pop is not an empty queue; pass Redis's error on \
         with `?`, so that the worker learns something is wrong instead of idling as if no \
         ticket were waiting"
    );
    // And a refused read of the status (WRONGTYPE again) is no unknown job.
    let () = redis.set("job:job-text", "not a hash").await.unwrap();
    let outcome = status(&mut redis, "job-text").await;
    assert!(
        outcome.is_err(),
        "`job:job-text` held a string, not a hash, so Redis refused the HGET (WRONGTYPE), yet \
         status answered {outcome:?}: a failed read is not an unknown job (`None` tells the \
         caller the job does not exist, when nobody could look); pass Redis's error on with `?`"
    );
}

#[tokio::test]
async fn workers_claiming_at_once_get_each_ticket_once() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    for n in 0..60 {
        enqueue(&mut redis, "reports", &ticket(n))
            .await
            .expect("enqueue returned an error");
    }
    let mut connections = Vec::new();
    for _ in 0..4 {
        connections.push(env.redis().await);
    }
    let workers: Vec<_> = (0..12)
        .map(|n| {
            let mut redis = connections[n % connections.len()].clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                // A bound, so a claim that never gives `None` still ends.
                for _ in 0..100 {
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
    let ids: BTreeSet<String> = claimed.iter().map(|t| t.id.clone()).collect();
    assert_eq!(
        ids.len(),
        60,
        "12 workers claiming at once must take all 60 tickets between them"
    );
    assert_eq!(
        claimed.len(),
        60,
        "12 workers claiming at once took {} tickets for 60 queued: some ticket went to two \
         workers; the pop must be one command (RPOP) that reads and removes the ticket atomically",
        claimed.len()
    );
    let left: u64 = redis.llen("queue:reports").await.unwrap();
    assert_eq!(left, 0, "once every ticket is claimed the queue is empty");
    for n in [0, 29, 59] {
        assert_eq!(
            status(&mut redis, &format!("job-{n}"))
                .await
                .expect("status returned an error")
                .as_deref(),
            Some("running"),
            "every claimed job is marked `running`"
        );
    }
}
