//! Graded tests of the data structures exercise, shared by `exercises` and `solutions`.
//!
//! Each structure earns its place by what the server does with it: the
//! intersection, the ranking, the bit count and the estimate are computed
//! by Redis, and only the answer travels. The tests check the commands sent
//! as well as the results.

use super::structures::*;
use lab::testing::{RedisCommand, RedisLog, TestEnv, inspect};

/// Panics with a message naming `what` and the commands sent, unless the
/// log holds exactly one command and it is one of `expected`.
fn expect_one_of(sent: &RedisLog, expected: &[&str], what: &str) {
    let names = sent.names();
    assert!(
        names.len() == 1 && expected.contains(&names[0]),
        "{what}: expected one {}, got {}",
        expected.join(" or "),
        sent.listing()
    );
}

/// Whether `command` asks Redis for the `n` best members of a sorted set,
/// best first, and no more: by rank (`ZREVRANGE key 0 n-1`, or `ZRANGE`
/// with `REV`) or by score with `LIMIT 0 n` (`ZREVRANGEBYSCORE`, or
/// `ZRANGE ... BYSCORE REV`); or the n last in ascending order
/// (`ZRANGE key -n -1`), for the client to reverse.
fn asks_for_the_best(command: &RedisCommand, n: usize) -> bool {
    let best_first = match command.name.as_str() {
        "ZREVRANGE" | "ZREVRANGEBYSCORE" => true,
        "ZRANGE" => command.has_option("REV"),
        _ => false,
    };
    let arg = |at: usize| command.args.get(at).map(String::as_str);
    let at_most_n = match command
        .args
        .iter()
        .position(|a| a.eq_ignore_ascii_case("LIMIT"))
    {
        Some(limit) => arg(limit + 1) == Some("0") && arg(limit + 2) == Some(&*n.to_string()),
        None => {
            let by_rank = command.name != "ZREVRANGEBYSCORE"
                && !command.has_option("BYSCORE")
                && !command.has_option("BYLEX");
            by_rank && arg(1) == Some("0") && arg(2) == Some(&*(n - 1).to_string())
        }
    };
    // The top n as the ascending tail, `ZRANGE key -n -1`, which the
    // client then reverses: Redis still does the ranking, and n travel.
    let ascending_tail = command.name == "ZRANGE"
        && !["REV", "BYSCORE", "BYLEX", "LIMIT"]
            .iter()
            .any(|option| command.has_option(option))
        && arg(1) == Some(&*format!("-{n}"))
        && arg(2) == Some("-1");
    (best_first && at_most_n) || ascending_tail
}

#[tokio::test]
async fn the_email_queue_is_first_in_first_out() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    enqueue_email(&mut redis, "inv-1")
        .await
        .expect("enqueue_email returned an error");
    let sent = recording.finish().await;
    expect_one_of(
        &sent,
        &["RPUSH", "LPUSH"],
        "adding to a queue is one push onto a list",
    );
    for id in ["inv-2", "inv-3"] {
        enqueue_email(&mut redis, id).await.unwrap();
    }
    assert_eq!(
        inspect::key_type(&mut redis, "queue:emails").await,
        "list",
        "a queue is a Redis list under `queue:emails`"
    );
    // No snapshot of the list: pushing on the right and popping on the
    // left is as good as the other way round.
    let recording = env.record_redis().await;
    let first = next_email(&mut redis)
        .await
        .expect("next_email returned an error");
    let sent = recording.finish().await;
    let popped_once = sent.commands.len() == 1 && sent.commands[0].pops_one_from("queue:emails");
    assert!(
        popped_once,
        "taking from a queue is one pop from `queue:emails` (LPOP, or LMPOP of that one list), \
         which reads and removes atomically: next_email sent {}",
        sent.listing()
    );
    let mut taken: Vec<String> = first.into_iter().collect();
    while let Some(id) = next_email(&mut redis).await.unwrap() {
        taken.push(id);
        assert!(
            taken.len() <= 3,
            "next_email keeps returning ids: {taken:?}"
        );
    }
    assert_eq!(
        taken,
        ["inv-1", "inv-2", "inv-3"],
        "the oldest invoice is emailed first: push at one end, pop at the other"
    );
    assert_eq!(
        next_email(&mut redis).await.unwrap(),
        None,
        "an empty queue gives `None`"
    );
    // A key of the wrong type makes Redis refuse the pop (WRONGTYPE).
    let () = redis::cmd("SET")
        .arg("queue:emails")
        .arg("not a list")
        .query_async(&mut redis)
        .await
        .unwrap();
    let outcome = next_email(&mut redis).await;
    assert!(
        outcome.is_err(),
        "`queue:emails` held a string, not a list, so Redis refused the pop (WRONGTYPE), yet \
         next_email answered {outcome:?}: a failed pop is not an empty queue; pass Redis's error \
         on with `?` (or return the pop's result as it is), so that the caller learns something \
         is wrong instead of idling as if no email were waiting"
    );
}

#[tokio::test]
async fn tags_are_a_set_and_shared_tags_are_their_intersection() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    // Out of alphabetical order, so that an answer left unsorted is caught:
    // eight shared tags come sorted by chance once in 40,320 runs.
    let first = [
        "vip",
        "annual",
        "vip",
        "promo",
        "beta",
        "trial",
        "bulk",
        "gold",
        "early",
        "nonprofit",
    ];
    let second = [
        "annual",
        "reseller",
        "bulk",
        "vip",
        "beta",
        "promo",
        "nonprofit",
        "gold",
        "early",
    ];
    let recording = env.record_redis().await;
    tag_customer(&mut redis, 1, &first)
        .await
        .expect("tag_customer returned an error");
    let sent = recording.finish().await;
    // One SADD, or SADDs in one transaction or script: all the tags or
    // none, in one step.
    let data = sent.data_commands();
    let only_sadd = !data.is_empty() && data.iter().all(|command| command.name == "SADD");
    assert!(
        only_sadd && sent.is_atomic(),
        "tagging is one SADD with every tag (SADD takes many members): expected one SADD, got \
         {}; {}",
        sent.listing(),
        if data.is_empty() {
            "tag_customer sent no SADD, so no tag was added"
        } else if only_sadd {
            "SADDs sent one by one can leave a customer with half their tags"
        } else {
            "adding tags needs no other command: the set keeps each tag once by itself"
        }
    );
    tag_customer(&mut redis, 2, &second).await.unwrap();
    tag_customer(&mut redis, 3, &[]).await.expect(
        "tag_customer(3, &[]) returned an error: with no tags there is nothing to add, and Redis \
         refuses an SADD without members (wrong number of arguments), so send no command at all",
    );
    assert_eq!(
        inspect::key_type(&mut redis, "customer:3:tags").await,
        "none",
        "tagging customer 3 with no tags must leave `customer:3:tags` absent"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "customer:1:tags").await,
        "set",
        "tags are a Redis set under `customer:1:tags`"
    );
    let count: u64 = redis::cmd("SCARD")
        .arg("customer:1:tags")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        count, 9,
        "a tag given twice is stored once: a set has no duplicates"
    );
    let recording = env.record_redis().await;
    let shared = shared_tags(&mut redis, 1, 2)
        .await
        .expect("shared_tags returned an error");
    let sent = recording.finish().await;
    let expected = [
        "annual",
        "beta",
        "bulk",
        "early",
        "gold",
        "nonprofit",
        "promo",
        "vip",
    ];
    let mut as_a_set = shared.clone();
    as_a_set.sort();
    assert_eq!(
        as_a_set, expected,
        "customers 1 and 2 share eight tags, from `annual` to `vip`, each once: \
         shared_tags answered {shared:?}"
    );
    assert_eq!(
        shared, expected,
        "shared_tags answered {shared:?}: the shared tags must come sorted, and SINTER answers \
         them in no particular order (a set has none), so sort them in Rust before returning them"
    );
    expect_one_of(
        &sent,
        &["SINTER"],
        "the intersection is computed by Redis with SINTER, not by reading both sets into Rust",
    );
    assert!(
        shared_tags(&mut redis, 1, 3).await.unwrap().is_empty(),
        "nothing is shared with an untagged customer"
    );
    // A tags key that holds a string: Redis refuses the SADD (WRONGTYPE).
    let () = redis::cmd("SET")
        .arg("customer:5:tags")
        .arg("vip")
        .query_async(&mut redis)
        .await
        .unwrap();
    let outcome = tag_customer(&mut redis, 5, &["gold"]).await;
    assert!(
        outcome.is_err(),
        "`customer:5:tags` holds a string, not a set, so Redis refused the SADD (WRONGTYPE), yet \
         tag_customer answered {outcome:?}: the caller is told the customer was tagged while \
         nothing was stored. Skip the SADD only when there are no tags, and return Redis's \
         error otherwise (`?`, or return what `sadd` answers)"
    );
    // The same string makes Redis refuse the SINTER (WRONGTYPE).
    let outcome = shared_tags(&mut redis, 1, 5).await;
    assert!(
        outcome.is_err(),
        "`customer:5:tags` holds a string, not a set, so Redis refused the SINTER of customers 1 \
         and 5 (WRONGTYPE), yet shared_tags answered {outcome:?}: a failed intersection is not \
         \"no tags in common\" (an untagged customer has no key, which SINTER already reads as \
         an empty set), and nobody would learn that Redis failed; pass Redis's error on with `?`"
    );
}

#[tokio::test]
async fn the_revenue_leaderboard_ranks_customers_by_cents() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    add_revenue(&mut redis, 1, 12_535)
        .await
        .expect("add_revenue returned an error");
    let sent = recording.finish().await;
    // ZADD with INCR is the same server-side add as ZINCRBY.
    let added_by_redis = match sent.names().as_slice() {
        ["ZINCRBY"] => true,
        ["ZADD"] => sent.commands[0].has_option("INCR"),
        _ => false,
    };
    assert!(
        added_by_redis,
        "adding revenue is one ZINCRBY (or ZADD with INCR): the server adds to the score, so two \
         payments at once both count (ZSCORE then ZADD loses one): expected one ZINCRBY, got {}",
        sent.listing()
    );
    add_revenue(&mut redis, 2, 50_000).await.unwrap();
    add_revenue(&mut redis, 1, 40_000).await.unwrap();
    add_revenue(&mut redis, 3, 100).await.unwrap();
    assert_eq!(
        inspect::key_type(&mut redis, "revenue").await,
        "zset",
        "a leaderboard is a sorted set under `revenue`"
    );
    lab::graded_snapshot!(
        "structures_leaderboard",
        inspect::dump(&mut redis).await,
        "the sorted set `revenue` must hold one member `customer:{id}` per customer, scored by total cents"
    );
    let recording = env.record_redis().await;
    let top = top_customers(&mut redis, 2)
        .await
        .expect("top_customers returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        top,
        [
            ("customer:1".to_owned(), 52_535),
            ("customer:2".to_owned(), 50_000)
        ],
        "revenue adds up per customer, and the best comes first"
    );
    let ranked_by_redis = sent.commands.len() == 1 && asks_for_the_best(&sent.commands[0], 2);
    assert!(
        ranked_by_redis,
        "the top 2 are asked of Redis, best first and no more than 2 (ZREVRANGE revenue 0 1 \
         WITHSCORES, or ZRANGE ... REV, or ZREVRANGEBYSCORE ... LIMIT 0 2): top_customers sent \
         {}; reading the whole leaderboard to sort it in Rust defeats the sorted set",
        sent.listing()
    );
    assert!(
        top_customers(&mut redis, 0).await.unwrap().is_empty(),
        "the top 0 is nobody (mind `0 - 1` as a stop index: -1 means the last member)"
    );
    // Refunds can leave a customer below 0 cents: still a customer, last.
    add_revenue(&mut redis, 4, -2_500).await.unwrap();
    let everyone = top_customers(&mut redis, 5)
        .await
        .expect("top_customers returned an error");
    assert_eq!(
        everyone,
        [
            ("customer:1".to_owned(), 52_535),
            ("customer:2".to_owned(), 50_000),
            ("customer:3".to_owned(), 100),
            ("customer:4".to_owned(), -2_500),
        ],
        "the top 5 of four customers is all four, best first; customer:4, whose refunds exceed \
         their payments (-2500 cents), comes last and is not left out: revenue can be below 0, \
         so a ranking by score runs from +inf down to -inf (or rank by position with ZREVRANGE)"
    );
    // A refund on a customer who already has revenue lowers their score.
    add_revenue(&mut redis, 1, -10_000)
        .await
        .expect("add_revenue returned an error for a refund");
    let top = top_customers(&mut redis, 2)
        .await
        .expect("top_customers returned an error");
    assert_eq!(
        top,
        [
            ("customer:2".to_owned(), 50_000),
            ("customer:1".to_owned(), 42_535),
        ],
        "a refund of 10000 cents to customer:1 (52535 cents) must lower their score to 42535, \
         which puts customer:2 first: add_revenue adds negative amounts too. ZADD with GT (or LT) \
         drops an update that moves the score the other way, silently, so use ZINCRBY or a plain \
         ZADD ... INCR"
    );
    // A `revenue` that holds a string makes Redis refuse the add (WRONGTYPE).
    let () = redis::cmd("SET")
        .arg("revenue")
        .arg("not a leaderboard")
        .query_async(&mut redis)
        .await
        .unwrap();
    let outcome = add_revenue(&mut redis, 1, 500).await;
    assert!(
        outcome.is_err(),
        "`revenue` held a string, not a sorted set, so Redis refused the ZINCRBY (WRONGTYPE), yet \
         add_revenue answered {outcome:?}: the payment was not recorded while the caller is told \
         it was. Dropping the reply drops its error too; pass Redis's error on with `?` (or \
         return what `zincr` answers), even though the new score itself is not needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_recorded_at_once_all_count() {
    let env = TestEnv::start().await;
    env.race_redis(16, |mut redis, _| async move {
        for _ in 0..10 {
            add_revenue(&mut redis, 9, 250)
                .await
                .expect("add_revenue returned an error");
        }
    })
    .await;
    let mut redis = env.redis().await;
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("revenue")
        .arg("customer:9")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        score,
        Some(40_000.0),
        "16 clients recording 10 payments of 250 cents each at once must add up to 40000: \
         reading the score and writing it back loses payments; ZINCRBY adds on the server"
    );
}

#[tokio::test]
async fn daily_activity_is_one_bit_per_customer() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    mark_active(&mut redis, "2025-06-01", 0)
        .await
        .expect("mark_active returned an error");
    let sent = recording.finish().await;
    // `BITFIELD key SET u1 <customer> 1` writes the same bit in one command;
    // the count and the size below tell a wrong field or offset.
    expect_one_of(
        &sent,
        &["SETBIT", "BITFIELD"],
        "marking a customer active is one SETBIT (or one `BITFIELD ... SET u1`)",
    );
    for customer in [7, 7, 999] {
        mark_active(&mut redis, "2025-06-01", customer)
            .await
            .unwrap();
    }
    mark_active(&mut redis, "2025-06-02", 7).await.unwrap();
    let recording = env.record_redis().await;
    let count = active_count(&mut redis, "2025-06-01")
        .await
        .expect("active_count returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        count, 3,
        "three customers were active on 2025-06-01; customer 7 counts once"
    );
    expect_one_of(
        &sent,
        &["BITCOUNT"],
        "the count is BITCOUNT, computed by Redis, not the bitmap read into Rust and counted there",
    );
    assert_eq!(
        active_count(&mut redis, "2025-06-02").await.unwrap(),
        1,
        "each day has its own bitmap"
    );
    let size = inspect::bytes(&mut redis, "active:2025-06-01")
        .await
        .unwrap_or_default()
        .len();
    assert_eq!(
        size, 125,
        "1,000 customers take 125 bytes as a bitmap: use SETBIT at the customer's number under `active:{{day}}`"
    );
    assert_eq!(
        active_count(&mut redis, "2025-06-03")
            .await
            .expect("active_count returned an error for a day without a bitmap"),
        0,
        "nobody was active on 2025-06-03: BITCOUNT of a missing key answers 0"
    );
    // A key of the wrong type makes Redis refuse the count (WRONGTYPE).
    let _: () = lab::redis::cmd("RPUSH")
        .arg("active:2025-06-04")
        .arg("not a bitmap")
        .query_async(&mut redis)
        .await
        .unwrap();
    let outcome = active_count(&mut redis, "2025-06-04").await;
    assert!(
        outcome.is_err(),
        "`active:2025-06-04` held a list, not a bitmap, so Redis refused the BITCOUNT \
         (WRONGTYPE), yet active_count answered {outcome:?}: a failed count is not a day \
         nobody was active (a missing key already counts 0); pass Redis's error on with `?`"
    );
    // The same list makes Redis refuse the SETBIT.
    let outcome = mark_active(&mut redis, "2025-06-04", 7).await;
    assert!(
        outcome.is_err(),
        "`active:2025-06-04` holds a list, not a bitmap, so Redis refused the SETBIT \
         (WRONGTYPE), yet mark_active answered {outcome:?}: customer 7 was not marked active \
         while the caller is told they were. Dropping the reply drops its error too; pass \
         Redis's error on with `?` (or map the old bit away, `.map(|_: bool| ())`)"
    );
}

#[tokio::test]
async fn unique_visitors_are_counted_by_a_hyperloglog() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    record_visitor(&mut redis, "pricing", "visitor-0")
        .await
        .expect("record_visitor returned an error");
    let sent = recording.finish().await;
    expect_one_of(&sent, &["PFADD"], "counting a visitor is one PFADD");
    for visitor in 1..1_000 {
        record_visitor(&mut redis, "pricing", &format!("visitor-{}", visitor % 400))
            .await
            .unwrap();
    }
    let recording = env.record_redis().await;
    let count = unique_visitors(&mut redis, "pricing")
        .await
        .expect("unique_visitors returned an error");
    let sent = recording.finish().await;
    assert!(
        (390..=410).contains(&count),
        "400 different visitors must be counted about right (a HyperLogLog's standard error is \
         0.81%): got {count}"
    );
    expect_one_of(&sent, &["PFCOUNT"], "the estimate is PFCOUNT");
    assert_eq!(
        inspect::key_type(&mut redis, "visitors:pricing").await,
        "string",
        "a HyperLogLog is stored as a string under `visitors:pricing`"
    );
    let raw = inspect::bytes(&mut redis, "visitors:pricing")
        .await
        .unwrap_or_default();
    assert!(
        raw.starts_with(b"HYLL"),
        "`visitors:pricing` must be a HyperLogLog (PFADD), not a set or list"
    );
    assert_eq!(
        unique_visitors(&mut redis, "home").await.unwrap(),
        0,
        "a page nobody visited has 0 visitors"
    );
    // A key of the wrong type makes Redis refuse the count (WRONGTYPE).
    let _: () = lab::redis::cmd("SET")
        .arg("visitors:broken")
        .arg("not a HyperLogLog")
        .query_async(&mut redis)
        .await
        .unwrap();
    let outcome = unique_visitors(&mut redis, "broken").await;
    assert!(
        outcome.is_err(),
        "`visitors:broken` held plain text, not a HyperLogLog, so Redis refused the PFCOUNT, yet \
         unique_visitors answered {outcome:?}: a failed count is not a page nobody visited (a \
         missing key already counts 0); pass Redis's error on with `?`"
    );
}
