//! Graded tests of the customer card exercise, shared by `exercises` and `solutions`.

use super::customer_card::*;
use lab::testing::redis_log::Context;
use lab::testing::{RedisCommand, RedisLog, TestEnv, inspect, restricted_redis, stoppable_redis};
use redis::AsyncCommands;

fn ada() -> CustomerCard {
    CustomerCard {
        id: 42,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        city: "Metropolis".into(),
    }
}

/// Reads the JSON card of customer `id`, whose key holds `what`, something
/// that is not a card, and fails unless load_from_json answers `None` (or an
/// error) without panicking; `instead` ends the message when it answers a
/// card.
async fn reads_as_no_card(
    redis: &redis::aio::ConnectionManager,
    id: u32,
    what: &str,
    instead: &str,
) {
    let mut reader = redis.clone();
    let outcome = tokio::spawn(async move { load_from_json(&mut reader, id).await }).await;
    match outcome {
        Err(_) => panic!(
            "`customer:{id}:json` holds {what}: load_from_json must answer `None` (or an \
             error), it panicked; the customer page would crash on one bad value. Parse with \
             `serde_json::from_str(&json).ok()` instead of unwrapping"
        ),
        Ok(Ok(Some(card))) => panic!(
            "`customer:{id}:json` holds {what}: load_from_json must answer `None` (or an \
             error), it answered {card:?}{instead}"
        ),
        Ok(Ok(None) | Err(_)) => {}
    }
}

#[tokio::test]
async fn the_json_form_is_one_string_that_round_trips() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    save_as_json(&mut redis, &ada())
        .await
        .expect("save_as_json returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42:json").await,
        "string",
        "Redis has no JSON type: the JSON form is a plain string value under `customer:42:json`"
    );
    let ttl = inspect::ttl(&mut redis, "customer:42:json").await;
    assert_eq!(
        ttl,
        None,
        "a customer's card is kept until it is saved again: `customer:42:json` must not expire, \
         but TTL says it expires in {} seconds; save_as_json sent {} (an expiry option such as \
         EX treats the card as a cache entry, and the customer page finds no card once it \
         vanishes); write it with a plain SET",
        ttl.unwrap_or_default(),
        sent.listing()
    );
    assert_eq!(
        sent.names(),
        ["SET"],
        "the JSON form is written whole, with one SET; save_as_json sent {}",
        sent.listing()
    );
    let raw = inspect::bytes(&mut redis, "customer:42:json")
        .await
        .unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_else(|_| {
        panic!(
            "`customer:42:json` must hold valid JSON (serde_json::to_string), it holds {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    assert_eq!(
        parsed["email"], "ada@example.com",
        "the JSON document has the card's fields by name"
    );
    // The stored document, field names and all, as recorded from the answer key.
    lab::graded_snapshot!(
        "customer_card_json",
        parsed,
        "the JSON under `customer:42:json` must be the card serialised by serde: fields id, name, email and city"
    );
    let recording = env.record_redis().await;
    let loaded = load_from_json(&mut redis, 42)
        .await
        .expect("load_from_json returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        loaded,
        Some(ada()),
        "load_from_json reads back the card save_as_json stored"
    );
    assert_eq!(
        sent.names(),
        ["GET"],
        "the JSON form is read whole with one GET; load_from_json sent {}",
        sent.listing()
    );
    assert_eq!(
        load_from_json(&mut redis, 43).await.unwrap(),
        None,
        "a customer without a stored card gives `None`"
    );
    let moved = CustomerCard {
        city: "Gotham".into(),
        ..ada()
    };
    let recording = env.record_redis().await;
    save_as_json(&mut redis, &moved)
        .await
        .expect("save_as_json returned an error for a card already saved");
    let sent = recording.finish().await;
    let raw = inspect::bytes(&mut redis, "customer:42:json")
        .await
        .unwrap_or_default();
    let city = serde_json::from_slice::<serde_json::Value>(&raw)
        .map(|card| card["city"].clone())
        .unwrap_or_default();
    assert_eq!(
        city,
        "Gotham",
        "saving a changed card (Ada moved to Gotham) must replace the stored one, so \
         `customer:42:json` must hold the city \"Gotham\", but it holds {:?}; save_as_json sent \
         {} (SET with NX only writes a missing key, so every later change of the card is \
         dropped while save_as_json answers Ok); write it with a plain SET",
        String::from_utf8_lossy(&raw),
        sent.listing()
    );
    // Someone else wrote the key: the reader must survive it.
    let () = redis.set("customer:44:json", "not a card {").await.unwrap();
    reads_as_no_card(
        &redis,
        44,
        "text that is not a card (written by another program, or an older version of this one)",
        "",
    )
    .await;
    let kept = inspect::bytes(&mut redis, "customer:44:json").await;
    assert_eq!(
        kept.as_deref(),
        Some("not a card {".as_bytes()),
        "`customer:44:json` holds text that is not a card, written by someone else: reading it \
         must leave it as it is, but after load_from_json it holds {:?}; a read never writes or \
         deletes (the value may be another program's, or a newer version's that this one cannot \
         parse yet), it only answers `None`",
        kept.as_deref().map(String::from_utf8_lossy)
    );
    // Valid JSON, but only half a card: no email, no city.
    let () = redis
        .set("customer:45:json", r#"{"id":45,"name":"Grace Hopper"}"#)
        .await
        .unwrap();
    reads_as_no_card(
        &redis,
        45,
        "`{\"id\":45,\"name\":\"Grace Hopper\"}`, valid JSON without the card's email and \
         city, so not a card (half written, or another program's object)",
        ". A card needs every field, as in the hash form: without `#[serde(default)]`, serde \
         refuses a JSON object that lacks one, and `.ok()` turns that into `None`; defaults \
         make any JSON object a card with blanks (or id 0)",
    )
    .await;
    // A Redis whose user may not read: the GET is refused (NOPERM).
    let server = stoppable_redis().await;
    let mut refusing = restricted_redis(&server, &["-@read"]).await;
    let outcome = load_from_json(&mut refusing, 42).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the GET (here its user may not read), nobody knows whether a card \
         is stored: load_from_json must return that error (`?` on the GET), and it answered \
         {outcome:?}. Only a value that came back and is not a card reads as `None`; a refused \
         read taken for \"no card\" shows the customer an empty page whenever Redis has a \
         hiccup, and nobody learns that Redis is failing"
    );
}

#[tokio::test]
async fn the_hash_form_has_one_field_per_attribute() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    save_as_hash(&mut redis, &ada())
        .await
        .expect("save_as_hash returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        inspect::key_type(&mut redis, "customer:42").await,
        "hash",
        "`customer:42` must be a hash"
    );
    // A DEL first, in the same transaction, is as good: it also drops
    // fields an older card left.
    let data: Vec<&str> = sent
        .data_commands()
        .iter()
        .map(|command| command.name.as_str())
        .collect();
    let one_step = matches!(data.as_slice(), ["HSET" | "HMSET"])
        || (sent.is_atomic() && matches!(data.as_slice(), ["DEL" | "UNLINK", "HSET" | "HMSET"]));
    assert!(
        one_step,
        "a hash's fields are written together in one command (HSET with several fields, or \
         HMSET, which `hset_multiple` sends), or after a DEL in the same MULTI/EXEC: \
         save_as_hash sent {}",
        sent.listing()
    );
    let fields: std::collections::BTreeMap<String, String> =
        redis.hgetall("customer:42").await.unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["city", "email", "name"],
        "the hash holds the fields name, email and city"
    );
    assert_eq!(
        fields["city"], "Metropolis",
        "each field holds its value as a string"
    );
    lab::graded_snapshot!(
        "customer_card_hash",
        inspect::dump(&mut redis).await,
        "save_as_hash must leave one hash, `customer:42`, with the fields name, email and city"
    );
    let recording = env.record_redis().await;
    let loaded = load_from_hash(&mut redis, 42)
        .await
        .expect("load_from_hash returned an error");
    let sent = recording.finish().await;
    assert_eq!(
        loaded,
        Some(ada()),
        "load_from_hash reads back the stored card"
    );
    assert!(
        sent.names() == ["HGETALL"] || sent.names() == ["HMGET"],
        "a card is read in one command (HGETALL, or HMGET of the three fields), not a field at \
         a time: load_from_hash sent {}",
        sent.listing()
    );
    assert_eq!(
        load_from_hash(&mut redis, 43).await.unwrap(),
        None,
        "a missing hash is no card"
    );
    // A field that holds an empty text is still there.
    let unknown_city = CustomerCard {
        id: 45,
        city: String::new(),
        ..ada()
    };
    save_as_hash(&mut redis, &unknown_city).await.unwrap();
    assert_eq!(
        load_from_hash(&mut redis, 45).await.unwrap(),
        Some(unknown_city),
        "`customer:45` has all three fields, its city an empty text (a customer who gave none): \
         that is a card with city \"\", as it was saved; only a field that is not there at all \
         makes the card incomplete"
    );
    // Spaces are part of the values too.
    let spaced = CustomerCard {
        id: 48,
        name: " Ada Lovelace".into(),
        email: "ada@example.com ".into(),
        city: " Metropolis ".into(),
    };
    save_as_hash(&mut redis, &spaced).await.unwrap();
    let stored: std::collections::BTreeMap<String, String> =
        redis.hgetall("customer:48").await.unwrap();
    assert!(
        stored.get("name").map(String::as_str) == Some(" Ada Lovelace")
            && stored.get("email").map(String::as_str) == Some("ada@example.com ")
            && stored.get("city").map(String::as_str) == Some(" Metropolis "),
        "a card whose fields have spaces at their ends is stored with the values as given, \
         spaces included, and `customer:48` holds {stored:?}: the card keeps what it was handed \
         (and reads back equal), cleaning input is for whoever takes it in"
    );
    let reloaded = load_from_hash(&mut redis, 48)
        .await
        .expect("load_from_hash returned an error");
    assert_eq!(
        reloaded,
        Some(spaced),
        "`customer:48` holds a card whose values have spaces at their ends, as save_as_hash \
         stored them, so the card reads back equal to the one saved, spaces included, but \
         load_from_hash answered {reloaded:?}: trimming the values on the way out changes the \
         card (and makes it differ from its JSON form); build the card from the fields as \
         they are"
    );
    // What change_email leaves for a customer whose card was never saved.
    let () = redis
        .hset("customer:44", "email", "grace@example.com")
        .await
        .unwrap();
    let partial = load_from_hash(&mut redis, 44)
        .await
        .expect("load_from_hash returned an error");
    assert_eq!(
        partial, None,
        "a card needs every field: `customer:44` has only `email` (what change_email leaves for \
         a customer whose card was never saved), so load_from_hash must answer `None`, not a \
         card with blanks; build the card only when name, email and city are all there"
    );

    // A card's three fields and one more (a newer version's `phone`): a
    // card; three fields, one of them not the card's: no card.
    let () = redis
        .hset_multiple(
            "customer:46",
            &[
                ("name", "Alan Turing"),
                ("email", "alan@example.com"),
                ("city", "Wilmslow"),
                ("phone", "555-0100"),
            ],
        )
        .await
        .unwrap();
    let () = redis
        .hset_multiple(
            "customer:47",
            &[
                ("name", "Edsger Dijkstra"),
                ("email", "edsger@example.com"),
                ("phone", "555-0101"),
            ],
        )
        .await
        .unwrap();
    let wider = load_from_hash(&mut redis, 46)
        .await
        .expect("load_from_hash returned an error");
    let lacking = load_from_hash(&mut redis, 47)
        .await
        .expect("load_from_hash returned an error");
    let alan = CustomerCard {
        id: 46,
        name: "Alan Turing".into(),
        email: "alan@example.com".into(),
        city: "Wilmslow".into(),
    };
    assert!(
        wider.as_ref() == Some(&alan) && lacking.is_none(),
        "a card needs every field, name, email and city; other fields do not matter: \
         `customer:46` holds all three and a `phone` as well (a newer version wrote it), so it \
         is the card {alan:?}, read as {wider:?}; `customer:47` holds name, email and phone but \
         no city, so it is no card, read as {lacking:?}. Look for the three fields by name \
         rather than counting the fields"
    );
    let mut left = Vec::new();
    for key in ["customer:44", "customer:47"] {
        let fields: std::collections::HashMap<String, String> = redis.hgetall(key).await.unwrap();
        left.push((key, fields.len()));
    }
    assert_eq!(
        left,
        [("customer:44", 1), ("customer:47", 3)],
        "`customer:44` and `customer:47` are not whole cards, so load_from_hash answers `None` \
         for them, and must leave them as they are: (key, fields left) after the reads are \
         {left:?}. A read never writes or deletes: the email change_email stored for a customer \
         whose card is not saved yet, or a newer program's hash, is real data"
    );

    // A Redis whose user may not read: the HGETALL is refused (NOPERM).
    let server = stoppable_redis().await;
    let mut refusing = restricted_redis(&server, &["-@read"]).await;
    let outcome = load_from_hash(&mut refusing, 42).await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the HGETALL (here its user may not read), nobody knows whether a \
         card is stored: load_from_hash must return that error (`?` on the read), and it \
         answered {outcome:?}. An empty or partial hash is no card; a refused read is a failure \
         of Redis, and taken for \"no card\" it hides that Redis is failing"
    );
}

/// Whether `command` writes the field `email` of `customer:42`, and no
/// other field.
fn writes_the_email_alone(command: &RedisCommand) -> bool {
    matches!(command.name.as_str(), "HSET" | "HMSET")
        && command.args.len() == 3
        && command.args[0] == "customer:42"
        && command.args[1] == "email"
}

/// Whether the log is one write of the email field alone, either by itself
/// or in one script or transaction that at most asks whether the card
/// exists first (nothing else can come between the check and the write).
fn touches_only_the_email(sent: &RedisLog) -> bool {
    match sent.data_commands().as_slice() {
        [one] => writes_the_email_alone(one),
        many => {
            many.iter().filter(|c| writes_the_email_alone(c)).count() == 1
                && many.iter().all(|c| {
                    writes_the_email_alone(c) || matches!(c.name.as_str(), "EXISTS" | "HEXISTS")
                })
                && many.iter().all(|c| c.context != Context::Client)
        }
    }
}

#[tokio::test]
async fn changing_the_email_touches_only_that_field() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    save_as_hash(&mut redis, &ada()).await.unwrap();
    let recording = env.record_redis().await;
    change_email(&mut redis, 42, " Countess@Lovelace.example ")
        .await
        .expect("change_email returned an error");
    let sent = recording.finish().await;
    let email: String = redis.hget("customer:42", "email").await.unwrap();
    assert_eq!(
        email, " Countess@Lovelace.example ",
        "the email field has the new address as given, capitals and spaces included: the card \
         stores what the customer typed, and changing it (lower case, trimming) is for whoever \
         checks addresses, not for the cache"
    );
    assert!(
        touches_only_the_email(&sent),
        "the point of a hash is that one field changes alone: change_email must send one HSET of \
         the email field only (HMSET of that one field, or a script that checks the key EXISTS \
         first, is fine too), it sent {} (reading the whole card and writing it back loses a \
         change made by someone else in between)",
        sent.listing()
    );
    let name: String = redis.hget("customer:42", "name").await.unwrap();
    assert_eq!(
        name, "Ada Lovelace",
        "a partial update keeps the other fields"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["customer:42"],
        "no other key is written"
    );
}
