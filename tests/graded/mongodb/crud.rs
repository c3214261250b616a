//! Graded tests of the CRUD exercise, shared by `exercises` and `solutions`.
//!
//! Each test fills `customers` itself, so it grades one helper at a time,
//! and looks at three things: what the helper returns, what it leaves in the
//! whole collection (no stray document from an upsert, no field lost), and
//! the commands it sent (`TestEnv::record_mongo`): one `insert` of all the
//! documents, the projection and the sort asked of the server, one update
//! with the right operator, no upsert where none is meant.

use super::crud::*;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::mongodb::Collection;
use lab::testing::{MongoCommand, MongoLog, TestEnv, inspect};

fn customers(env: &TestEnv) -> Collection<Document> {
    env.database().collection("customers")
}

/// Ada and Alan in London, Grace in Arlington, put in by the harness (not by
/// the student's `add_customers`, so each test grades one helper).
async fn register(env: &TestEnv) {
    customers(env)
        .insert_many([
            doc! { "name": "Ada", "email": "ada@example.com", "address": { "city": "London" } },
            doc! { "name": "Grace", "email": "grace@example.com", "address": { "city": "Arlington" } },
            doc! { "name": "Alan", "email": "alan@example.com", "address": { "city": "London" } },
        ])
        .await
        .unwrap();
}

/// Charles, in London with a street in his address: a filter on the whole
/// embedded document (`{address: {city}}`) misses him, one on the dotted
/// `address.city` finds him.
async fn add_charles(env: &TestEnv) {
    customers(env)
        .insert_one(doc! {
            "name": "Charles", "email": "charles@example.com",
            "address": { "street": "1 Dorset Street", "city": "London" },
        })
        .await
        .unwrap();
}

/// The emails of `documents`, sorted, for comparing who is left or changed.
fn sorted_emails(documents: &[Document]) -> Vec<String> {
    let mut emails: Vec<String> = documents
        .iter()
        .filter_map(|c| c.get_str("email").ok().map(str::to_owned))
        .collect();
    emails.sort();
    emails
}

/// The whole collection in email order, as JSON for a snapshot (`_id` is
/// redacted by the caller).
async fn stored_by_email(env: &TestEnv) -> serde_json::Value {
    let mut all = inspect::documents(env.database(), "customers").await;
    all.sort_by(|a, b| a.get_str("email").ok().cmp(&b.get_str("email").ok()));
    serde_json::Value::Array(
        all.into_iter()
            .map(|d| inspect::shown(&Bson::Document(d)))
            .collect(),
    )
}

/// A number in a command (`limit`, ...), whatever its integer type.
fn number(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(x) => Some(*x as i64),
        _ => None,
    }
}

/// The one write a helper sent, as the server saw it.
struct Write {
    /// The update document: operators, a replacement, or `None` for a
    /// pipeline.
    update: Option<Document>,
    /// The stages of an update pipeline (`[{$set: ...}]`), empty for an
    /// update document.
    pipeline: Vec<Document>,
    upsert: bool,
    multi: bool,
}

impl Write {
    /// The write whose update (`u` of a statement, `update` of a
    /// `findAndModify`) is `update`: a document or a pipeline.
    fn new(update: Option<&Bson>, upsert: bool, multi: bool) -> Write {
        let (update, pipeline) = match update {
            Some(Bson::Document(u)) => (Some(u.clone()), Vec::new()),
            Some(Bson::Array(stages)) => (
                None,
                stages
                    .iter()
                    .filter_map(Bson::as_document)
                    .cloned()
                    .collect(),
            ),
            _ => (None, Vec::new()),
        };
        Write {
            update,
            pipeline,
            upsert,
            multi,
        }
    }

    /// The update operators it uses (`$set`, `$inc`, ...); for an update
    /// pipeline its stages, `$addFields` under its alias `$set`.
    fn operators(&self) -> Vec<&str> {
        match &self.update {
            Some(u) => u
                .keys()
                .filter(|k| k.starts_with('$'))
                .map(String::as_str)
                .collect(),
            None => self
                .pipeline
                .iter()
                .filter_map(|stage| stage.keys().next())
                .map(|k| {
                    if k == "$addFields" {
                        "$set"
                    } else {
                        k.as_str()
                    }
                })
                .collect(),
        }
    }

    /// Whether it is a whole replacement document (no operator at all).
    fn is_replacement(&self) -> bool {
        self.update
            .as_ref()
            .is_some_and(|u| !u.keys().any(|k| k.starts_with('$')))
    }
}

/// The write, when the helper sent exactly one command and it is one update
/// statement on `customers` (`update_one`, `update_many`, `replace_one`) or
/// a `findAndModify` (`find_one_and_update`, `find_one_and_replace`).
fn the_one_write(sent: &MongoLog) -> Option<Write> {
    let [command] = sent.commands.as_slice() else {
        return None;
    };
    if command.collection.as_deref() != Some("customers") {
        return None;
    }
    match command.name.as_str() {
        "update" => {
            let statements = command.statements();
            let [statement] = statements.as_slice() else {
                return None;
            };
            Some(Write::new(
                statement.get("u"),
                statement.get_bool("upsert").unwrap_or(false),
                statement.get_bool("multi").unwrap_or(false),
            ))
        }
        "findAndModify" if !command.body.get_bool("remove").unwrap_or(false) => Some(Write::new(
            command.body.get("update"),
            command.upserts(),
            false,
        )),
        _ => None,
    }
}

/// The command that read `customers` (a `find`, or an `aggregate`).
fn the_read(sent: &MongoLog) -> Option<&MongoCommand> {
    sent.commands.iter().find(|c| {
        (c.name == "find" || c.name == "aggregate") && c.collection.as_deref() == Some("customers")
    })
}

/// A part of a read: `filter`/`$match`, `sort`/`$sort`, `projection`/`$project`.
fn part_of_read(read: &MongoCommand, find_field: &str, stage: &str) -> Option<Document> {
    if read.name == "find" {
        return read.body.get_document(find_field).ok().cloned();
    }
    read.body
        .get_array("pipeline")
        .ok()?
        .iter()
        .filter_map(Bson::as_document)
        .find_map(|s| s.get_document(stage).ok().cloned())
}

/// Whether a projection names the fields to keep: none but `_id` is set to
/// 0 or false (an exclusion lets through every field it does not name).
fn keeps_named_fields(projection: &Document) -> bool {
    let drops = |value: &Bson| match value {
        Bson::Boolean(keep) => !keep,
        other => number(Some(other)) == Some(0),
    };
    !projection.is_empty()
        && projection
            .iter()
            .all(|(field, value)| field == "_id" || !drops(value))
}

/// Whether a projection leaves `_id` out (`"_id": 0`), which MongoDB
/// sends unless told not to.
fn leaves_out_id(projection: &Document) -> bool {
    match projection.get("_id") {
        Some(Bson::Boolean(keep)) => !keep,
        other => number(other) == Some(0),
    }
}

/// A projection for a failure message.
fn shown_projection(projection: Option<&Document>) -> String {
    projection.map_or("no projection".to_owned(), |p| {
        inspect::shown(&Bson::Document(p.clone())).to_string()
    })
}

#[tokio::test]
async fn insert_one_stores_the_document_and_returns_its_id() {
    let env = TestEnv::start().await;
    let recording = env.record_mongo();
    let id = add_customer(env.database(), "Ada", "ada@example.com", "London")
        .await
        .expect("add_customer returned an error");
    let sent = recording.finish();
    let all = inspect::documents(env.database(), "customers").await;
    assert_eq!(
        all.len(),
        1,
        "add_customer must store exactly one document in `customers`, the collection holds {}",
        all.len()
    );
    assert_eq!(
        all[0].get("_id"),
        Some(&Bson::ObjectId(id)),
        "the returned id must be the stored document's `_id`: make the ObjectId before the insert \
         and put it in the document as `_id` (or return insert_one's inserted_id)"
    );
    assert_eq!(
        all[0],
        doc! { "_id": id, "name": "Ada", "email": "ada@example.com", "address": { "city": "London" } },
        "a customer is `{{_id, name, email, address: {{city}}}}`: the city lives inside an \
         embedded `address` document, not at the top level"
    );
    let one_insert = sent.names() == ["insert"]
        && sent.commands[0].documents() == 1
        && sent.commands[0].collection.as_deref() == Some("customers");
    assert!(
        one_insert,
        "adding a customer is one insert_one of one document into `customers`: add_customer sent {}",
        sent.listing()
    );
}

#[tokio::test]
async fn insert_many_stores_every_customer() {
    let env = TestEnv::start().await;
    let people = [
        ("Ada", "ada@example.com", "London"),
        ("Grace", "grace@example.com", "Arlington"),
        ("Alan", "alan@example.com", "London"),
    ];
    let recording = env.record_mongo();
    let inserted = add_customers(env.database(), &people)
        .await
        .expect("add_customers returned an error");
    let sent = recording.finish();
    assert_eq!(
        inserted, 3,
        "add_customers returns how many customers it inserted (the length of insert_many's \
         inserted_ids)"
    );
    let one_insert = sent.names() == ["insert"] && sent.commands[0].documents() == 3;
    assert!(
        one_insert,
        "insert_many sends every customer in one insert command, one round trip for all of them: \
         add_customers sent {} (an insert_one per customer costs a round trip each)",
        sent.listing()
    );
    lab::graded_snapshot!(
        "crud_register",
        stored_by_email(&env).await,
        "add_customers must store one document per customer, each `{_id, name, email, address: \
         {city}}` with the city inside the embedded `address`",
        { "[]._id" => "[id]" }
    );
    let recording = env.record_mongo();
    let none = add_customers(env.database(), &[])
        .await
        .expect("add_customers returned an error for an empty list");
    let sent = recording.finish();
    assert_eq!(
        none, 0,
        "an empty list inserts nothing and is not an error: insert_many refuses an empty list, \
         so answer 0 without calling it"
    );
    assert!(
        !sent.used("insert"),
        "an empty list inserts nothing: add_customers sent {}",
        sent.listing()
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await.len(),
        3,
        "an empty list leaves the collection as it was"
    );
}

#[tokio::test]
async fn find_one_projects_only_the_fields_asked_for() {
    let env = TestEnv::start().await;
    register(&env).await;
    customers(&env)
        .update_one(
            doc! { "email": "grace@example.com" },
            doc! { "$set": {
                "phone": "555-0102", "address.street": "1 Navy Way",
                "tags": ["navy"], "visits": 3,
            } },
        )
        .await
        .unwrap();
    let recording = env.record_mongo();
    let found = find_by_email(env.database(), "grace@example.com")
        .await
        .expect("find_by_email returned an error");
    let sent = recording.finish();
    assert_eq!(
        found,
        Some(
            doc! { "name": "Grace", "email": "grace@example.com", "address": { "city": "Arlington" } }
        ),
        "find_by_email returns name, email and address.city only, without `_id` or any other \
         field (Grace also has a phone, a street, tags and visits): project \
         `{{\"_id\": 0, \"name\": 1, \"email\": 1, \"address.city\": 1}}`, naming the fields to \
         keep, not the ones seen so far to drop"
    );
    let projection = the_read(&sent).and_then(|read| part_of_read(read, "projection", "$project"));
    assert!(
        projection.as_ref().is_some_and(|p| !p.is_empty()),
        "the projection belongs in the query, so the server sends only the fields asked for: \
         find_by_email sent {} without one; put `.projection(doc! {{...}})` on find_one instead \
         of removing fields in Rust after the whole document has travelled",
        sent.listing()
    );
    assert!(
        projection.as_ref().is_some_and(keeps_named_fields),
        "the projection names the fields to keep (`\"name\": 1`, ...), find_by_email's is {}: \
         dropping fields by name (`\"phone\": 0`) lets through every field added later (tags, \
         visits)",
        shown_projection(projection.as_ref())
    );
    assert!(
        projection.as_ref().is_some_and(leaves_out_id),
        "find_by_email's projection lets `_id` through: it is {}. MongoDB sends `_id` unless \
         the projection says `\"_id\": 0`, so an `_id` removed in Rust afterwards has still \
         travelled; put `\"_id\": 0` in the projection",
        shown_projection(projection.as_ref())
    );
    assert_eq!(
        find_by_email(env.database(), "nobody@example.com")
            .await
            .expect("find_by_email returned an error for an unknown email"),
        None,
        "a filter that matches nothing is not an error: find_one gives `None`"
    );
    // An email is text to compare whole, not a pattern: `ace@example.com`
    // is the end of Grace's address, and `+` is a pattern's "one or more".
    assert_eq!(
        find_by_email(env.database(), "ace@example.com")
            .await
            .expect("find_by_email returned an error for an unknown email"),
        None,
        "nobody has the email ace@example.com, yet find_by_email found someone: an email is \
         text, not a pattern. Filter on equality, `doc! {{ \"email\": email }}`; a `$regex` \
         matches every email that merely contains the text (here Grace's, \
         grace@example.com)"
    );
    customers(&env)
        .insert_one(doc! {
            "name": "Ada", "email": "ada+billing@example.com", "address": { "city": "London" },
        })
        .await
        .unwrap();
    assert_eq!(
        find_by_email(env.database(), "ada+billing@example.com")
            .await
            .expect("find_by_email returned an error"),
        Some(
            doc! { "name": "Ada", "email": "ada+billing@example.com", "address": { "city": "London" } }
        ),
        "find_by_email(\"ada+billing@example.com\") must find the customer with that email: an \
         email is text, not a pattern. In a `$regex`, `+` means \"one or more of the letter \
         before\", so the pattern misses the very address it came from; filter on equality, \
         `doc! {{ \"email\": email }}`"
    );
    customers(&env)
        .insert_one(doc! {
            "name": "Mary", "email": "Mary.Somerville@Example.com", "address": { "city": "Oxford" },
        })
        .await
        .unwrap();
    assert_eq!(
        find_by_email(env.database(), "Mary.Somerville@Example.com")
            .await
            .expect("find_by_email returned an error"),
        Some(
            doc! { "name": "Mary", "email": "Mary.Somerville@Example.com", "address": { "city": "Oxford" } }
        ),
        "find_by_email(\"Mary.Somerville@Example.com\") must find the customer stored with \
         exactly that email: the customers are stored with their email as given, so look it up \
         as given; changing its case (or anything else) before the lookup misses them"
    );
    // A server that is not there: the find fails.
    let outcome = lab::testing::with_mongodb_down(
        env.database().name(),
        "find_by_email",
        |down| async move { find_by_email(&down, "ada@example.com").await },
    )
    .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached, so the find failed, yet find_by_email answered \
         {outcome:?}: a failed lookup is an error to return with `?`, not `None` (which says \
         there is no such customer, and invites registering them a second time)"
    );
}

#[tokio::test]
async fn find_filters_on_an_embedded_field_and_sorts() {
    let env = TestEnv::start().await;
    register(&env).await;
    add_charles(&env).await;
    let recording = env.record_mongo();
    let names = names_in_city(env.database(), "London")
        .await
        .expect("names_in_city returned an error");
    let sent = recording.finish();
    assert_eq!(
        names,
        ["Ada", "Alan", "Charles"],
        "names_in_city(\"London\") must give every London customer, in alphabetical order; filter \
         on the embedded field with its dotted name `address.city` (a filter `{{address: {{city}}}}` \
         matches only addresses that are exactly that document, not one with a street)"
    );
    let read = the_read(&sent);
    let filter = read.and_then(|read| part_of_read(read, "filter", "$match"));
    assert!(
        filter.is_some_and(|f| f.contains_key("address.city")),
        "the server does the filtering: names_in_city sent {}; the filter must be \
         `{{\"address.city\": city}}`, not everything read and filtered in Rust",
        sent.listing()
    );
    let sort = read.and_then(|read| part_of_read(read, "sort", "$sort"));
    assert!(
        sort.is_some_and(|s| s.contains_key("name")),
        "the order is the server's job: names_in_city sent {} without a sort on `name`; put \
         `.sort(doc! {{\"name\": 1}})` on find instead of sorting the names in Rust",
        sent.listing()
    );
    let projection = read.and_then(|read| part_of_read(read, "projection", "$project"));
    let names_only = projection.as_ref().is_some_and(|p| {
        keeps_named_fields(p) && p.keys().filter(|field| *field != "_id").eq(["name"])
    });
    assert!(
        names_only,
        "names_in_city needs the names only, so its projection keeps `name` alone: it sent {} \
         with {}; put `.projection(doc! {{\"_id\": 0, \"name\": 1}})` on find, or every London \
         customer's whole document (address, phone, tags, visits) travels to Rust to give one name",
        sent.listing(),
        shown_projection(projection.as_ref())
    );
    assert!(
        projection.as_ref().is_some_and(leaves_out_id),
        "names_in_city's projection keeps `name` but also lets `_id` through: it sent {} with \
         {}; MongoDB sends `_id` unless the projection says `\"_id\": 0`, so every London \
         customer's ObjectId travels with their name, though only the names are wanted; put \
         `.projection(doc! {{\"_id\": 0, \"name\": 1}})` on find",
        sent.listing(),
        shown_projection(projection.as_ref())
    );
    // Cities whose names hold "London": a city is text to compare whole.
    customers(&env)
        .insert_many([
            doc! { "name": "Grover", "address": { "city": "New London" } },
            doc! { "name": "Mabel", "address": { "city": "Londonderry" } },
        ])
        .await
        .unwrap();
    let names = names_in_city(env.database(), "London")
        .await
        .expect("names_in_city returned an error");
    assert_eq!(
        names,
        ["Ada", "Alan", "Charles"],
        "names_in_city(\"London\") must give the customers of London alone, not those of New \
         London or Londonderry: a city is text to compare whole, not a pattern. Filter on \
         equality, `doc! {{ \"address.city\": city }}`; a `$regex` matches every city that \
         contains the name"
    );
    assert!(
        names_in_city(env.database(), "Paris")
            .await
            .expect("names_in_city returned an error for a city without customers")
            .is_empty(),
        "a city without customers gives an empty list"
    );
    // Two customers of one city with the same name: two names.
    customers(&env)
        .insert_many([
            doc! { "name": "John Smith", "email": "john@smith.example", "address": { "city": "York" } },
            doc! { "name": "John Smith", "email": "js@york.example", "address": { "city": "York" } },
        ])
        .await
        .unwrap();
    let names = names_in_city(env.database(), "York")
        .await
        .expect("names_in_city returned an error");
    assert_eq!(
        names,
        ["John Smith", "John Smith"],
        "York has two customers with the same name, John Smith, so names_in_city(\"York\") \
         gives that name twice, one per customer: keep the names in a Vec as the cursor gives \
         them (a set would merge the two customers into one)"
    );
    let leeds: Vec<Document> = (0..130)
        .map(|n| doc! { "name": format!("Leeds customer {n:03}"), "address": { "city": "Leeds" } })
        .collect();
    customers(&env).insert_many(leeds).await.unwrap();
    let names = names_in_city(env.database(), "Leeds")
        .await
        .expect("names_in_city returned an error");
    let expected: Vec<String> = (0..130).map(|n| format!("Leeds customer {n:03}")).collect();
    assert!(
        names == expected,
        "Leeds has 130 customers, and names_in_city(\"Leeds\") must give all 130 names in \
         order; it gave {} ({:?} ... {:?}): read the cursor to its end (the driver fetches the \
         rest in batches as you go), with no limit of your own",
        names.len(),
        names.first(),
        names.last()
    );
}

#[tokio::test]
async fn update_one_changes_one_field_of_one_customer() {
    let env = TestEnv::start().await;
    register(&env).await;
    let before = inspect::documents(env.database(), "customers").await;
    let recording = env.record_mongo();
    let renamed = rename(env.database(), "ada@example.com", "Ada Lovelace")
        .await
        .expect("rename returned an error");
    let sent = recording.finish();
    assert!(renamed, "renaming a customer who exists answers true");
    let expected: Vec<Document> = before
        .iter()
        .map(|customer| {
            let mut customer = customer.clone();
            if customer.get_str("email").ok() == Some("ada@example.com") {
                customer.insert("name", "Ada Lovelace");
            }
            customer
        })
        .collect();
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        expected,
        "rename changes the name of Ada alone: `$set` leaves her other fields (email, address) and \
         the other customers as they were"
    );
    let write = the_one_write(&sent);
    assert!(
        write.as_ref().is_some_and(|w| w.operators() == ["$set"]),
        "a rename is one update_one with `$set` of the name (an update pipeline `[{{$set}}]` will \
         do too), done by the server: rename sent {}; \
         reading the customer and writing it back is two round trips and loses a change made in \
         between",
        sent.listing()
    );
    let write = write.unwrap();
    assert!(
        !write.upsert,
        "rename must not upsert: renaming an unknown email must not create a customer; drop \
         upsert(true)"
    );
    assert!(
        !write.multi,
        "rename changes one customer: update_one, not update_many"
    );
    assert!(
        rename(env.database(), "ada@example.com", "Ada Lovelace")
            .await
            .expect("rename returned an error"),
        "renaming a customer to the name they already have still matched a customer (matched 1, \
         modified 0): report matched_count, not modified_count"
    );
    let before = inspect::documents(env.database(), "customers").await;
    assert!(
        !rename(env.database(), "nobody@example.com", "x")
            .await
            .expect("rename returned an error for an unknown email"),
        "an email that matches nothing is reported as false (matched_count 0)"
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        before,
        "renaming an unknown email changes nothing and creates no customer: no upsert"
    );
    rename(env.database(), "ada@example.com", "$name")
        .await
        .expect("rename returned an error for the name `$name`");
    let ada = customers(&env)
        .find_one(doc! { "email": "ada@example.com" })
        .await
        .unwrap();
    let name = ada.as_ref().and_then(|c| c.get_str("name").ok());
    assert_eq!(
        name,
        Some("$name"),
        "rename stores the new name exactly as given, even one that starts with `$`, Ada is now \
         named {name:?}: the `$set` operator stores its values as they are, but in an update \
         pipeline (`vec![doc! {{\"$set\": ...}}]`) a string that starts with `$` is a field path, \
         so there wrap the name in `{{\"$literal\": new_name}}`"
    );
}

#[tokio::test]
async fn update_many_adds_a_tag_once_per_customer() {
    let env = TestEnv::start().await;
    register(&env).await;
    add_charles(&env).await;
    let recording = env.record_mongo();
    let changed = tag_city(env.database(), "London", "uk")
        .await
        .expect("tag_city returned an error");
    let sent = recording.finish();
    let tagged: Vec<Document> = inspect::documents(env.database(), "customers")
        .await
        .into_iter()
        .filter(|c| {
            c.get_array("tags")
                .is_ok_and(|t| t.contains(&Bson::from("uk")))
        })
        .collect();
    let tagged = sorted_emails(&tagged);
    assert_eq!(
        tagged,
        ["ada@example.com", "alan@example.com", "charles@example.com"],
        "tag_city(\"London\", \"uk\") tags every London customer and nobody else, Charles too, \
         whose address also has a street; tagged were {tagged:?}: filter on the dotted \
         `address.city` (a filter `{{address: {{city}}}}` matches only addresses that are exactly \
         that document, not one with a street)"
    );
    assert_eq!(
        changed, 3,
        "tagging London changes its three customers: update_many, and return modified_count"
    );
    let write = the_one_write(&sent);
    assert!(
        write.as_ref().is_some_and(|w| w.multi && !w.upsert),
        "tagging a city is one update_many (multi, no upsert) applied by the server to every \
         match: tag_city sent {}; a find and an update per customer is a round trip each",
        sent.listing()
    );
    assert_eq!(
        tag_city(env.database(), "London", "uk")
            .await
            .expect("tag_city returned an error"),
        0,
        "a customer who has the tag already is not modified: `$addToSet` adds a value only when \
         it is missing (`$push` would add it a second time)"
    );
    let tagged = customers(&env)
        .count_documents(doc! { "tags": ["uk"] })
        .await
        .unwrap();
    assert_eq!(
        tagged, 3,
        "each London customer has tags [\"uk\"], once, however often tag_city runs"
    );
    assert_eq!(
        customers(&env)
            .count_documents(doc! { "tags": { "$exists": true } })
            .await
            .unwrap(),
        3,
        "customers elsewhere are untouched: filter on `address.city`"
    );
    let before = inspect::documents(env.database(), "customers").await;
    assert_eq!(
        tag_city(env.database(), "Paris", "fr")
            .await
            .expect("tag_city returned an error for a city without customers"),
        0,
        "a city without customers changes nobody"
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        before,
        "tagging a city without customers must leave the collection as it was: no upsert, which \
         would create a customer out of the filter"
    );

    // A second tag is added next to the first, not in its place.
    assert_eq!(
        tag_city(env.database(), "London", "vip")
            .await
            .expect("tag_city returned an error"),
        3,
        "tagging London with a second tag changes its three customers"
    );
    let both = customers(&env)
        .count_documents(doc! { "tags": ["uk", "vip"] })
        .await
        .unwrap();
    assert_eq!(
        both, 3,
        "after tag_city(\"London\", \"uk\") then tag_city(\"London\", \"vip\"), each London \
         customer must have tags [\"uk\", \"vip\"], and {both} of 3 do: tag_city adds the tag to \
         the array with `$addToSet`; `$set: {{tags: [tag]}}` replaces the array and wipes the tags \
         a customer already had"
    );
}

#[tokio::test]
async fn replace_one_swaps_the_whole_document_and_keeps_the_id() {
    let env = TestEnv::start().await;
    let id = ObjectId::new();
    customers(&env)
        .insert_one(doc! {
            "_id": id, "name": "Ada", "email": "ada@example.com",
            "address": { "city": "London" }, "phone": "555-0101",
        })
        .await
        .unwrap();
    let recording = env.record_mongo();
    let replaced = replace_customer(
        env.database(),
        id,
        "Ada L.",
        "ada@lovelace.example",
        "Oxford",
    )
    .await
    .expect("replace_customer returned an error");
    let sent = recording.finish();
    assert!(replaced, "replacing a customer who exists answers true");
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        [
            doc! { "_id": id, "name": "Ada L.", "email": "ada@lovelace.example", "address": { "city": "Oxford" } }
        ],
        "a replacement keeps only `_id` of the old document (the phone is gone): replace_one, not \
         `$set` of the new fields"
    );
    let write = the_one_write(&sent);
    assert!(
        write.as_ref().is_some_and(Write::is_replacement),
        "replace_one swaps the whole document in one command, a replacement without operators: \
         replace_customer sent {}; deleting and inserting again leaves a moment without the \
         customer, and loses them if the insert fails",
        sent.listing()
    );
    let write = write.unwrap();
    assert!(
        !write.upsert && !write.multi,
        "replace_customer replaces one existing customer by `_id`, without upsert"
    );
    assert!(
        replace_customer(
            env.database(),
            id,
            "Ada L.",
            "ada@lovelace.example",
            "Oxford"
        )
        .await
        .expect("replace_customer returned an error"),
        "replacing a customer with the same content still matched them (matched 1, modified 0): \
         report matched_count, not modified_count"
    );
    let before = inspect::documents(env.database(), "customers").await;
    assert!(
        !replace_customer(env.database(), ObjectId::new(), "x", "x@example.com", "y")
            .await
            .expect("replace_customer returned an error for an unknown id"),
        "an id that matches nothing is reported as false"
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        before,
        "replacing an unknown id changes nothing and creates no customer: no upsert"
    );
}

#[tokio::test]
async fn an_upsert_creates_once_then_counts() {
    let env = TestEnv::start().await;
    customers(&env)
        .insert_one(
            doc! { "name": "Ada", "email": "ada@example.com", "address": { "city": "London" } },
        )
        .await
        .unwrap();
    let recording = env.record_mongo();
    let created = record_visit(env.database(), "new@example.com")
        .await
        .expect("record_visit returned an error");
    let sent = recording.finish();
    assert!(
        created,
        "the first visit of an unknown email creates the customer and answers true \
         (upserted_id is set)"
    );
    let write = the_one_write(&sent);
    assert!(
        write.as_ref().is_some_and(
            |w| w.upsert && (w.operators().contains(&"$inc") || !w.pipeline.is_empty())
        ),
        "a visit is counted with one update_one that has `$inc` (or an update pipeline that \
         adds 1) and upsert(true), so the server creates or counts in one step: record_visit \
         sent {}; a find and then an insert or update lets two visits race (both find nothing, \
         both insert)",
        sent.listing()
    );
    assert!(
        write.as_ref().is_some_and(|w| !w.multi),
        "a visit counts one customer, so it is one update_one, not update_many: record_visit \
         sent {}; update_many adds the visit to every customer holding the email, and the \
         server does not retry a multi-document upsert that loses a race on a unique index",
        sent.listing()
    );
    for visit in [2, 3] {
        assert!(
            !record_visit(env.database(), "new@example.com")
                .await
                .expect("record_visit returned an error"),
            "visit {visit} of a customer who exists creates nothing and answers false \
             (upserted_id is None)"
        );
    }
    assert!(
        !record_visit(env.database(), "ada@example.com")
            .await
            .expect("record_visit returned an error"),
        "a visit of a customer who exists answers false"
    );
    let all = inspect::documents(env.database(), "customers").await;
    let new: Vec<&Document> = all
        .iter()
        .filter(|c| c.get_str("email").ok() == Some("new@example.com"))
        .collect();
    assert_eq!(
        (all.len(), new.len()),
        (2, 1),
        "one document per customer however many visits: the upsert creates `new@example.com` once"
    );
    assert_eq!(
        number(new[0].get("visits")),
        Some(3),
        "three visits count 3: `$inc` by 1, the first one on the document the upsert created"
    );
    lab::graded_snapshot!(
        "crud_visits",
        stored_by_email(&env).await,
        "after three visits of new@example.com and one of Ada the collection holds Ada with her \
         fields and `visits: 1` (`$inc` keeps the others), and `{_id, email, visits: 3}` made by \
         the upsert from the filter and the update",
        { "[]._id" => "[id]" }
    );
    // A server that is not there: the visit cannot be counted.
    let outcome =
        lab::testing::with_mongodb_down(env.database().name(), "record_visit", |down| async move {
            record_visit(&down, "new@example.com").await
        })
        .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached, so the visit was not counted, yet record_visit answered \
         {outcome:?}: a failed update is an error to return with `?`, not `Ok(false)` (which \
         says the visit was counted on a customer who exists). There is no duplicate key to \
         excuse either: the server itself retries an upsert that loses a race on the unique \
         index, so any error left is a visit lost"
    );
}

#[tokio::test]
async fn many_visits_of_a_new_customer_at_once_make_one_document() {
    let env = TestEnv::start().await;
    // What MongoDB guarantees: with a unique index on the filtered field,
    // concurrent upserts of the same email create one document (the server
    // retries the loser as an update); the course puts one on email.
    lab::testing::unique_index(&customers(&env), doc! { "email": 1 }).await;
    const VISITS: usize = 20;
    let visits: Vec<_> = (0..VISITS)
        .map(|_| {
            let db = env.database().clone();
            tokio::spawn(async move { record_visit(&db, "rush@example.com").await })
        })
        .collect();
    let mut created = 0;
    for visit in visits {
        let answer = visit.await.expect("record_visit panicked");
        match answer {
            Ok(true) => created += 1,
            Ok(false) => {}
            Err(error) => panic!(
                "record_visit failed when {VISITS} visits of a new customer arrived at once \
                 ({error}): a find and then an insert races, two visits both find nothing and \
                 both insert, and the unique index on email refuses the second; one update_one \
                 with `$inc` and upsert(true) lets the server create or count in one step"
            ),
        }
    }
    let all = inspect::documents(env.database(), "customers").await;
    assert_eq!(
        all.len(),
        1,
        "{VISITS} visits at once of a new email must leave one customer, the collection holds {}: \
         create and count in one upsert, not a find followed by an insert",
        all.len()
    );
    assert_eq!(
        number(all[0].get("visits")),
        Some(VISITS as i64),
        "{VISITS} visits at once must count {VISITS}: `$inc` counts on the server, so no visit is \
         lost; a count read in Rust and written back loses visits made in between"
    );
    assert_eq!(
        created, 1,
        "exactly one of {VISITS} visits at once created the customer and answered true: report \
         upserted_id.is_some() of one update_one (find_one_and_update's missing pre-image is not \
         a reliable sign of creation on the lab's embedded server, see `lab doctor`)"
    );
}

#[tokio::test]
async fn delete_one_and_delete_many_remove_what_they_match() {
    let env = TestEnv::start().await;
    register(&env).await;
    customers(&env)
        .insert_one(
            doc! { "name": "Marie", "email": "marie@example.com", "address": { "city": "Paris" } },
        )
        .await
        .unwrap();
    add_charles(&env).await;
    let recording = env.record_mongo();
    let removed = remove_customer(env.database(), "grace@example.com")
        .await
        .expect("remove_customer returned an error");
    let sent = recording.finish();
    assert!(removed, "removing a customer who exists answers true");
    let one_delete = match sent.commands.as_slice() {
        [command] if command.name == "delete" => {
            command.statements().len() == 1
                && number(command.statements()[0].get("limit")) == Some(1)
        }
        [command] if command.name == "findAndModify" => {
            command.body.get_bool("remove").unwrap_or(false)
        }
        _ => false,
    };
    assert!(
        one_delete,
        "removing a customer is one delete_one (a delete with limit 1, or find_one_and_delete): \
         remove_customer sent {}",
        sent.listing()
    );
    assert_eq!(
        sorted_emails(&inspect::documents(env.database(), "customers").await),
        [
            "ada@example.com",
            "alan@example.com",
            "charles@example.com",
            "marie@example.com"
        ],
        "remove_customer deletes the customer with that email and nobody else"
    );
    assert!(
        !remove_customer(env.database(), "grace@example.com")
            .await
            .expect("remove_customer returned an error for an unknown email"),
        "removing a customer who is gone answers false (deleted_count 0)"
    );
    let recording = env.record_mongo();
    let gone = remove_city(env.database(), "London")
        .await
        .expect("remove_city returned an error");
    let sent = recording.finish();
    let left = sorted_emails(&inspect::documents(env.database(), "customers").await);
    assert_eq!(
        left,
        ["marie@example.com"],
        "remove_city(\"London\") deletes every London customer, Charles too, whose address also \
         has a street, and nobody else; left were {left:?}: filter on the dotted `address.city` \
         (a filter `{{address: {{city}}}}` matches only addresses that are exactly that document)"
    );
    assert_eq!(gone, 3, "London had three customers: return deleted_count");
    let one_delete = sent.names() == ["delete"]
        && sent.commands[0].statements().len() == 1
        && number(sent.commands[0].statements()[0].get("limit")) == Some(0);
    assert!(
        one_delete,
        "removing a city is one delete_many (a delete with limit 0) that the server applies to \
         every match: remove_city sent {}; a delete per customer is a round trip each",
        sent.listing()
    );
    assert_eq!(
        remove_city(env.database(), "London")
            .await
            .expect("remove_city returned an error for a city without customers"),
        0,
        "a city without customers deletes nothing"
    );
}
