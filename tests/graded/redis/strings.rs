//! Graded tests of the strings exercise, shared by `exercises` and `solutions`.
//!
//! Besides what each function returns and leaves in Redis, the tests look at
//! the commands it sent (`TestEnv::record_redis`): one command per job, the
//! counting done by the server.

use super::strings::*;
use lab::testing::{TestEnv, inspect};
use redis::AsyncCommands;

#[tokio::test]
async fn stores_a_customer_name_under_its_key() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    store_customer_name(&mut redis, 42, "Ada Lovelace")
        .await
        .expect("store_customer_name returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["customer:42:name"],
        "the name belongs under `customer:42:name`: keys follow `<type>:<id>:<field>`, nothing else is written"
    );
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42:name").await,
        "string",
        "a name is stored with SET, as a string value"
    );
    assert_eq!(
        inspect::bytes(&mut redis, "customer:42:name")
            .await
            .as_deref(),
        Some("Ada Lovelace".as_bytes()),
        "`customer:42:name` must hold the name exactly as given"
    );
    let ttl = inspect::ttl(&mut redis, "customer:42:name").await;
    assert_eq!(
        ttl,
        None,
        "a customer's name is kept until it changes: `customer:42:name` must not expire, but TTL \
         says it expires in {} seconds; store_customer_name sent {} (an expiry option such as EX \
         makes the name vanish by itself)",
        ttl.unwrap_or_default(),
        sent.listing()
    );
    assert_eq!(
        sent.names(),
        ["SET"],
        "storing a name is one SET; store_customer_name sent {}",
        sent.listing()
    );
    let recording = env.record_redis().await;
    store_customer_name(&mut redis, 42, "Ada King")
        .await
        .expect("store_customer_name returned an error for a customer who already has a name");
    let sent = recording.finish().await;
    let renamed = inspect::bytes(&mut redis, "customer:42:name").await;
    assert_eq!(
        renamed.as_deref(),
        Some("Ada King".as_bytes()),
        "storing a new name for customer 42 must replace the old one, so `customer:42:name` holds \
         the name exactly as given (\"Ada King\"), but it holds {:?}; store_customer_name sent {} \
         (SET with NX only writes a missing key, so a renamed customer keeps the old name)",
        renamed.as_deref().map(String::from_utf8_lossy),
        sent.listing()
    );
    // Spaces are part of what was given: the store is not the place to
    // tidy a name (the caller may mean them, and nobody sees it happen).
    store_customer_name(&mut redis, 43, "  Grace Hopper ")
        .await
        .expect("store_customer_name returned an error");
    let spaced = inspect::bytes(&mut redis, "customer:43:name").await;
    assert_eq!(
        spaced.as_deref(),
        Some("  Grace Hopper ".as_bytes()),
        "`customer:43:name` must hold the name exactly as given, spaces included (\"  Grace \
         Hopper \"), but it holds {:?}: store what the caller passed, without trimming or \
         changing it; tidying input belongs where it is read from the user",
        spaced.as_deref().map(String::from_utf8_lossy)
    );
}

#[tokio::test]
async fn reads_a_name_back_and_a_missing_one_as_none() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("customer:7:name", "Grace Hopper").await.unwrap();
    let recording = env.record_redis().await;
    let found = customer_name(&mut redis, 7)
        .await
        .expect("customer_name returned an error for a stored name");
    let sent = recording.finish().await;
    assert_eq!(
        found.as_deref(),
        Some("Grace Hopper"),
        "customer_name(7) reads `customer:7:name`"
    );
    assert_eq!(
        sent.names(),
        ["GET"],
        "reading a name is one GET (a missing key answers nil, so there is no need to ask EXISTS first); customer_name sent {}",
        sent.listing()
    );
    assert_eq!(
        customer_name(&mut redis, 8)
            .await
            .expect("a missing name is not an error"),
        None,
        "GET of a missing key is nil in Redis, which is `None`, not an error"
    );
    // An empty name is stored, so it is not a missing one.
    let () = redis.set("customer:10:name", "").await.unwrap();
    let empty = customer_name(&mut redis, 10)
        .await
        .expect("customer_name returned an error for a stored empty name");
    assert_eq!(
        empty.as_deref(),
        Some(""),
        "`customer:10:name` exists and holds the empty text, so customer_name(10) answers \
         Some(\"\"): an empty name is not a missing one (None means there is no key); return \
         what GET answers without judging the text"
    );
    // Spaces are part of the stored name, as store_customer_name keeps them.
    let () = redis
        .set("customer:11:name", "  Grace Hopper ")
        .await
        .unwrap();
    let spaced = customer_name(&mut redis, 11)
        .await
        .expect("customer_name returned an error for a stored name");
    assert_eq!(
        spaced.as_deref(),
        Some("  Grace Hopper "),
        "`customer:11:name` holds \"  Grace Hopper \", spaces included, so customer_name(11) \
         answers the name as stored, but it answered {spaced:?}: store_customer_name keeps a name \
         exactly as given, and trimming it on the way out makes the name read back differ from \
         the name stored; return what GET answers, unchanged"
    );
    // A name key that holds a hash: GET answers WRONGTYPE.
    let () = redis
        .hset("customer:9:name", "first", "Alan")
        .await
        .unwrap();
    let outcome = customer_name(&mut redis, 9).await;
    assert!(
        outcome.is_err(),
        "`customer:9:name` holds a hash, not a string, so Redis refused the GET (WRONGTYPE), yet \
         customer_name answered {outcome:?}: a GET that failed is not a missing name; return \
         what `get` answers (or use `?`) so the caller can tell a broken key or a Redis that is \
         down from a customer without a name, instead of showing them as nameless"
    );
}

#[tokio::test]
async fn counts_visits_on_the_server() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    let first = record_visit(&mut redis, "home")
        .await
        .expect("record_visit returned an error");
    let sent = recording.finish().await;
    assert_eq!(first, 1, "the first visit to a page counts 1");
    // Judged by the data commands: an INCR inside a script or a
    // transaction is still one increment done by the server.
    let counted: Vec<&str> = sent
        .data_commands()
        .iter()
        .map(|command| command.name.as_str())
        .collect();
    assert!(
        counted == ["INCR"] || counted == ["INCRBY"],
        "counting is one INCR, done by the server: record_visit sent {}; \
         a GET and then a SET lets two visitors read the same count and lose a visit",
        sent.listing()
    );
    assert_eq!(
        record_visit(&mut redis, "home").await.unwrap(),
        2,
        "the second visit to `home` counts 2"
    );
    assert_eq!(
        record_visit(&mut redis, "pricing").await.unwrap(),
        1,
        "each page has its own counter: `visits:pricing` starts at 1"
    );
    let stored: i64 = redis.get("visits:home").await.unwrap();
    assert_eq!(stored, 2, "the count lives in Redis under `visits:home`");
    lab::graded_snapshot!(
        "strings_visits",
        inspect::dump(&mut redis).await,
        "the counters must be strings holding whole numbers, one key per page, without expiry"
    );
    // Page names are keys as given: `Pricing` is not `pricing`.
    let capital = record_visit(&mut redis, "Pricing")
        .await
        .expect("record_visit returned an error");
    let keys = inspect::keys(&mut redis).await;
    assert!(
        capital == 1 && keys.iter().any(|key| key == "visits:Pricing"),
        "a visit to the page `Pricing` is counted under `visits:{{page}}` with the page as \
         given, `visits:Pricing`, starting at 1; record_visit answered {capital} and Redis holds \
         the keys {keys:?}: changing the page's name (its case, its spaces) merges pages that \
         differ and hides the count from anyone who reads `visits:Pricing`"
    );
    // Spaces belong to the page's name too.
    let spaced = record_visit(&mut redis, " home ")
        .await
        .expect("record_visit returned an error");
    let home: i64 = redis.get("visits:home").await.unwrap();
    let keys = inspect::keys(&mut redis).await;
    assert!(
        spaced == 1 && home == 2 && keys.iter().any(|key| key == "visits: home "),
        "a visit to the page \" home \" (spaces at both ends) is counted under `visits: home \
         ` with its spaces, starting at 1, and leaves `visits:home` at 2; record_visit answered \
         {spaced}, `visits:home` holds {home} and Redis holds the keys {keys:?}: trimming the \
         page's spaces merges two pages the caller keeps apart; build the key from the page as \
         given"
    );
    // A counter that holds text: Redis refuses the INCR.
    let () = redis.set("visits:broken", "lots").await.unwrap();
    let outcome = record_visit(&mut redis, "broken").await;
    assert!(
        outcome.is_err(),
        "`visits:broken` holds \"lots\", not a whole number, so Redis refused the INCR, yet \
         record_visit answered {outcome:?}: a count that failed is not a count of 0 (nothing \
         would show that counting has stopped); pass Redis's error on with `?`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_clients_counting_at_once_lose_no_visit() {
    let env = TestEnv::start().await;
    let counts = env
        .race_redis(16, |mut redis, _| async move {
            let mut counts = Vec::new();
            for _ in 0..10 {
                counts.push(
                    record_visit(&mut redis, "home")
                        .await
                        .expect("record_visit returned an error"),
                );
            }
            counts
        })
        .await;
    let mut redis = env.redis().await;
    let stored: i64 = redis.get("visits:home").await.unwrap();
    assert_eq!(
        stored, 160,
        "16 clients counting 10 visits each at once must count 160, and Redis holds {stored}: a GET \
         then a SET lets two clients read the same count and lose a visit; INCR counts on the \
         server, atomically"
    );
    let mut answers: Vec<i64> = counts.into_iter().flatten().collect();
    answers.sort_unstable();
    assert_eq!(
        answers,
        (1..=160).collect::<Vec<i64>>(),
        "each of 160 visits at once must get its own count back (1 to 160): return what INCR answered"
    );
}

#[tokio::test]
async fn decodes_text_and_reports_bytes_that_are_not_utf8() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("note:1", "café").await.unwrap();
    let _: () = redis
        .set("note:2", &[0xff_u8, 0xfe, 0x00][..])
        .await
        .unwrap();
    let recording = env.record_redis().await;
    assert_eq!(
        read_text(&mut redis, "note:1").await.unwrap(),
        Ok(Some("café".to_owned())),
        "bytes that are UTF-8 (`café` is 5 bytes) decode to the text"
    );
    let sent = recording.finish().await;
    assert_eq!(
        sent.names(),
        ["GET"],
        "reading a value is one GET into `Option<Vec<u8>>` (nil is `None`, so there is no need \
         to ask EXISTS first, and a key deleted between two commands cannot fool it); read_text \
         sent {}",
        sent.listing()
    );
    assert_eq!(
        read_text(&mut redis, "note:3").await.unwrap(),
        Ok(None),
        "a missing key is `Ok(None)`"
    );
    // An empty string is a value: a key that holds no bytes exists.
    let _: () = redis.set("note:6", "").await.unwrap();
    assert_eq!(
        read_text(&mut redis, "note:6").await.unwrap(),
        Ok(Some(String::new())),
        "`note:6` holds the empty string, which is text: read_text must answer \
         `Ok(Some(\"\"))`, and keep `Ok(None)` for a key that is missing. Read the bytes as \
         `Option<Vec<u8>>`: nil gives `None`, an empty value `Some(vec![])`; read as a plain \
         `Vec<u8>`, both come back empty and can no longer be told apart"
    );
    // U+FFFD is a character like any other: text that holds one is text.
    let _: () = redis.set("note:5", "a \u{fffd} mark").await.unwrap();
    assert_eq!(
        read_text(&mut redis, "note:5").await.unwrap(),
        Ok(Some("a \u{fffd} mark".to_owned())),
        "valid UTF-8 that holds the replacement character U+FFFD is still text: tell \
         bytes that are not UTF-8 apart by decoding strictly, not by looking for U+FFFD \
         after a lossy decode"
    );
    // Spaces and a final newline are part of the value: the reader keeps them.
    let _: () = redis.set("note:7", "  indented line\n").await.unwrap();
    let indented = read_text(&mut redis, "note:7").await.unwrap();
    assert_eq!(
        indented,
        Ok(Some("  indented line\n".to_owned())),
        "`note:7` holds \"  indented line\\n\" (two leading spaces, a final newline), so \
         read_text answers that text as stored, but it answered {indented:?}: trimming the \
         decoded text changes the value (and reads one made only of spaces as \"\"); decode the \
         bytes and return the text unchanged: deciding what is noise is the caller's job"
    );
    assert_eq!(
        read_text(&mut redis, "note:2").await.unwrap(),
        Err(NotText {
            key: "note:2".to_owned()
        }),
        "Redis returns bytes; bytes that are not UTF-8 are not text: report `NotText` instead of \
         replacing them (a lossy decode hides the problem)"
    );
    // A key that holds a hash: GET answers WRONGTYPE.
    let () = redis.hset("note:4", "text", "café").await.unwrap();
    let outcome = read_text(&mut redis, "note:4").await;
    assert!(
        outcome.is_err(),
        "`note:4` holds a hash, not a string, so Redis refused the GET (WRONGTYPE), yet read_text \
         answered {outcome:?}: that is Redis's error, the outer `Err`, not `NotText` (no bytes \
         came back to decode) and not `Ok(None)`; read the bytes with `?` on the GET and keep \
         `NotText` for bytes that came back and are not UTF-8, or the caller blames the data \
         for a failure of Redis"
    );
}
