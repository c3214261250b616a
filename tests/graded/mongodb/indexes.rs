//! Graded tests of the indexes exercise, shared by `exercises` and `solutions`.
//!
//! Besides the answers, the tests look at what each function asked MongoDB
//! to do (`TestEnv::record_mongo`): the query's filter and sort sent to the
//! server (with no `hint` that pins it to one index), indexes created with
//! `createIndexes` and read back with `listIndexes`, and `explain` to see
//! that the query reads only what it returns. Every index that serves the
//! query is accepted (equality fields first, in either order, with or
//! without `invoice_date` after them).

use super::indexes::*;
use lab::analysis::plan::explain_find;
use lab::analysis::revenue;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::mongodb::error::{Error, ErrorKind, WriteFailure};
use lab::mongodb::options::IndexOptions;
use lab::mongodb::{Database, IndexModel};
use lab::testing::{MongoLog, TestEnv, inspect};

/// The customer with the most revenue in the test data.
async fn busiest(db: &Database) -> ObjectId {
    revenue::by_customer(db, None).await.unwrap()[0].customer_id
}

/// The indexes of `collection` as the server lists them, by name.
async fn indexes(db: &Database, collection: &str) -> Vec<Document> {
    let mut cursor = db
        .collection::<Document>(collection)
        .list_indexes()
        .await
        .unwrap();
    let mut all = Vec::new();
    while cursor.advance().await.unwrap() {
        let model = cursor.deserialize_current().unwrap();
        let mut index = doc! { "key": model.keys };
        if let Some(options) = model.options {
            index.insert("name", options.name.unwrap_or_default());
            index.insert("unique", options.unique.unwrap_or(false));
        }
        all.push(index);
    }
    all.sort_by_key(|index| index.get_str("name").unwrap_or_default().to_owned());
    all
}

/// The field names of an index's key, in order.
fn fields(index: &Document) -> Vec<String> {
    index
        .get_document("key")
        .map(|key| key.keys().cloned().collect())
        .unwrap_or_default()
}

/// A BSON value as plain JSON for a snapshot: ids as hex, dates as RFC 3339,
/// decimals as their exact text.
fn json(value: &Bson) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Bson::Document(document) => Value::Object(
            document
                .iter()
                .map(|(key, inner)| (key.clone(), json(inner)))
                .collect(),
        ),
        Bson::Array(items) => Value::Array(items.iter().map(json).collect()),
        Bson::String(text) => Value::from(text.as_str()),
        Bson::Int32(n) => Value::from(*n),
        Bson::Int64(n) => Value::from(*n),
        Bson::Double(n) => Value::from(*n),
        Bson::Boolean(b) => Value::from(*b),
        Bson::ObjectId(id) => Value::from(id.to_hex()),
        Bson::DateTime(date) => Value::from(date.try_to_rfc3339_string().unwrap_or_default()),
        Bson::Decimal128(decimal) => Value::from(decimal.to_string()),
        Bson::Null => Value::Null,
        other => Value::from(other.to_string()),
    }
}

/// Indexes in a line, for messages: `customer_id_1 {customer_id: 1}`.
fn describe(indexes: &[Document]) -> String {
    let lines: Vec<String> = indexes
        .iter()
        .map(|index| {
            let key = index.get_document("key").cloned().unwrap_or_default();
            let unique = if index.get_bool("unique").unwrap_or(false) {
                " unique"
            } else {
                ""
            };
            format!("{} {key}{unique}", index.get_str("name").unwrap_or("?"))
        })
        .collect();
    lines.join(", ")
}

/// An error in a line, for messages: the server's code and message for a
/// write or command error.
fn short(error: &Error) -> String {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => {
            format!("write error {}: {}", write.code, write.message)
        }
        ErrorKind::Command(command) => format!("error {}: {}", command.code, command.message),
        other => other.to_string(),
    }
}

/// The server's error code in a write error, as the harness reads it.
fn write_code(error: &Error) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        _ => None,
    }
}

/// The filter and the sort a query sent to the server: those of its one
/// `find`, or of the `$match` and `$sort` of its one `aggregate`. The
/// server merges `$match` stages that come before anything but a `$sort`
/// into one filter, and so does this.
fn filter_and_sort(sent: &MongoLog) -> Option<(Document, Option<Document>)> {
    let others = sent
        .names()
        .into_iter()
        .filter(|name| !matches!(*name, "getMore" | "killCursors"))
        .count();
    if others != 1 {
        return None;
    }
    if let Some(find) = sent.all("find").first() {
        let filter = find
            .body
            .get_document("filter")
            .cloned()
            .unwrap_or_default();
        return Some((filter, find.body.get_document("sort").ok().cloned()));
    }
    let aggregate = sent.all("aggregate").into_iter().next()?;
    let stages = aggregate.body.get_array("pipeline").ok()?;
    let stage = |name: &str| {
        stages
            .iter()
            .filter_map(Bson::as_document)
            .find_map(|stage| stage.get_document(name).ok().cloned())
    };
    let mut matches: Vec<Document> = stages
        .iter()
        .filter_map(Bson::as_document)
        .take_while(|stage| stage.contains_key("$match") || stage.contains_key("$sort"))
        .filter_map(|stage| stage.get_document("$match").ok().cloned())
        .collect();
    let filter = match matches.len() {
        // The pipeline starts with another stage: its first `$match`, if any.
        0 => stage("$match")?,
        1 => matches.pop()?,
        _ => doc! { "$and": matches },
    };
    Some((filter, stage("$sort")))
}

/// The `hint` a query sent with its `find` or `aggregate`, if any: the
/// index it told the server to use, whatever the planner would choose.
fn hint_sent(sent: &MongoLog) -> Option<&Bson> {
    sent.commands
        .iter()
        .filter(|command| matches!(command.name.as_str(), "find" | "aggregate"))
        .find_map(|command| command.body.get("hint"))
}

#[tokio::test]
async fn the_unpaid_invoices_query_answers_correctly() {
    let env = TestEnv::start_seeded().await;
    let db = env.database();
    let customer = busiest(db).await;
    let invoices = db.collection::<Document>("invoices");
    let unpaid = doc! { "customer_id": customer, "status": { "$in": ["pending", "overdue"] } };
    let expected = invoices.count_documents(unpaid.clone()).await.unwrap();
    assert!(
        expected > 1,
        "the test data gives this customer several unpaid invoices"
    );
    let recording = env.record_mongo();
    let answer = unpaid_invoices_of(db, customer).await;
    let sent = recording.finish();
    // Looked at before the answer: a hint naming an index that is not
    // there makes the server refuse the query.
    if let Some(hint) = hint_sent(&sent) {
        panic!(
            "unpaid_invoices_of must let the server's planner choose the index, with no `hint`: \
             it sent the hint {hint}. A hint pins the query to that index for good, so once \
             index_unpaid_lookup has built the index on customer_id and status, the query still \
             reads every paid invoice of the customer and throws it away (and a hint naming an \
             index that is not there makes the server refuse the query); send the find with its \
             filter and sort only, and the planner picks the best index there is"
        );
    }
    let found = answer.expect("unpaid_invoices_of returned an error");
    let mut ids: Vec<ObjectId> = found
        .iter()
        .filter_map(|invoice| invoice.get_object_id("_id").ok())
        .collect();
    ids.sort();
    let mut expected_ids: Vec<ObjectId> = Vec::new();
    let mut stored: Vec<Document> = Vec::new();
    let mut cursor = invoices.find(unpaid).await.unwrap();
    while cursor.advance().await.unwrap() {
        let invoice = cursor.deserialize_current().unwrap();
        expected_ids.push(invoice.get_object_id("_id").unwrap());
        stored.push(invoice);
    }
    expected_ids.sort();
    let missing = expected_ids.iter().filter(|id| !ids.contains(id)).count();
    let unexpected = ids.iter().filter(|id| !expected_ids.contains(id)).count();
    assert!(
        ids == expected_ids,
        "unpaid_invoices_of must return every invoice of this customer whose status is pending \
         or overdue, and no other (whole invoice documents, _id included): it returned {} \
         invoices, {missing} unpaid ones are missing and {unexpected} should not be there",
        found.len()
    );
    if let Some(cut) = found.iter().find(|invoice| !stored.contains(*invoice)) {
        let id = cut.get_object_id("_id").ok();
        let shown = id.map_or_else(|| "without _id".to_owned(), |id| id.to_hex());
        let whole = stored
            .iter()
            .find(|invoice| invoice.get_object_id("_id").ok() == id);
        let left_out: Vec<&str> = whole
            .map(|whole| {
                whole
                    .keys()
                    .filter(|field| !cut.contains_key(field.as_str()))
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default();
        panic!(
            "unpaid_invoices_of must return whole invoice documents, as they are stored, without \
             a projection: the invoice {shown} came back without the fields {left_out:?} (or with \
             fields changed); whoever reads the unpaid invoices (a reminder needs the due date \
             and the customer) must find every field, so send the find with its filter and sort \
             only"
        );
    }
    assert!(
        found.windows(2).all(|pair| {
            pair[0].get_datetime("invoice_date").ok() <= pair[1].get_datetime("invoice_date").ok()
        }),
        "unpaid_invoices_of must return the invoices oldest first, by invoice_date"
    );
    let Some((filter, sort)) = filter_and_sort(&sent) else {
        panic!(
            "unpaid_invoices_of must be ONE find (with its filter and its sort) sent to the \
             server; it sent {}",
            sent.listing()
        );
    };
    let selected = invoices.count_documents(filter.clone()).await.unwrap_or(0);
    assert_eq!(
        selected, expected,
        "the filter sent to the server must select exactly the customer's pending and overdue \
         invoices, both conditions together ({{customer_id, status: {{$in: [...]}}}}), so the \
         server filters with its index rather than Rust after the transfer; the filter sent was \
         {filter}"
    );
    let oldest_first = sort
        .as_ref()
        .and_then(|sort| sort.iter().next())
        .is_some_and(|(field, direction)| {
            field == "invoice_date"
                && matches!(
                    direction,
                    Bson::Int32(1) | Bson::Int64(1) | Bson::Double(1.0)
                )
        });
    assert!(
        oldest_first,
        "unpaid_invoices_of must ask the server to sort, with sort {{invoice_date: 1}}, instead of \
         sorting the invoices in Rust; the sort sent was {sort:?}"
    );
    // One line per invoice returned: what the customer owes, in order.
    let returned: Vec<String> = found
        .iter()
        .map(|invoice| {
            let field = |name: &str| match invoice.get(name) {
                Some(value) => json(value)
                    .as_str()
                    .map_or(value.to_string(), str::to_owned),
                None => "(missing)".to_owned(),
            };
            let items = invoice.get_array("items").map_or(0, Vec::len);
            format!(
                "{} {} {} ({items} items)",
                field("invoice_date"),
                field("status"),
                field("total_amount")
            )
        })
        .collect();
    lab::graded_snapshot!(
        "indexes_unpaid_invoices",
        returned,
        "unpaid_invoices_of must return the whole stored invoices of the customer that are pending \
         or overdue, oldest first by invoice_date"
    );
    // A customer with more unpaid invoices than any page a function might
    // cut its answer to.
    let many = ObjectId::new();
    let model = stored
        .first()
        .cloned()
        .expect("the customer has unpaid invoices");
    let copies: Vec<Document> = (0..130)
        .map(|_| {
            let mut copy = model.clone();
            copy.insert("_id", ObjectId::new());
            copy.insert("customer_id", many);
            copy
        })
        .collect();
    invoices.insert_many(copies).await.unwrap();
    let all = unpaid_invoices_of(db, many)
        .await
        .expect("unpaid_invoices_of returned an error");
    assert_eq!(
        all.len(),
        130,
        "unpaid_invoices_of must return every invoice of this customer that is unpaid: a customer \
         with 130 of them got {}; read the cursor to its end, with no limit of your own (the \
         driver fetches the rest in batches as you go)",
        all.len()
    );
    // A server that is not there: the query fails.
    let outcome =
        lab::testing::with_mongodb_down(db.name(), "unpaid_invoices_of", |down| async move {
            unpaid_invoices_of(&down, customer).await
        })
        .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached (this database handle points at a server that is down), \
         yet unpaid_invoices_of answered {outcome:?}: a query that failed is an error, not a \
         customer who owes nothing; pass the driver's error on with `?`, or a reminder run \
         during an outage tells everyone they are paid up"
    );
}

#[tokio::test]
async fn with_the_index_the_query_reads_only_what_it_returns() {
    let env = TestEnv::start_seeded().await;
    let db = env.database();
    let customer = busiest(db).await;
    let filter = doc! { "customer_id": customer, "status": { "$in": ["pending", "overdue"] } };
    let before = explain_find(db, "invoices", filter.clone()).await.unwrap();
    assert!(
        before.docs_examined > before.returned,
        "without the new index, paid invoices are read and thrown away: {before}"
    );
    // Another report's index on the same keys, of the paid invoices only: it
    // cannot serve the unpaid query, and an answer that looks for an index
    // by its keys, rather than creating its own, would take it for its own.
    let paid_only = IndexModel::builder()
        .keys(doc! { "customer_id": 1, "status": 1 })
        .options(
            IndexOptions::builder()
                .name("paid_by_customer".to_owned())
                .partial_filter_expression(doc! { "status": "paid" })
                .build(),
        )
        .build();
    db.collection::<Document>("invoices")
        .create_index(paid_only)
        .await
        .unwrap();
    let indexes_before = indexes(db, "invoices").await;
    let collections_before = db.list_collection_names().await.unwrap();
    let invoices_before = inspect::documents(db, "invoices").await;

    let recording = env.record_mongo();
    let name = index_unpaid_lookup(db)
        .await
        .expect("index_unpaid_lookup returned an error");
    let sent = recording.finish();
    let created = sent.all("createIndexes");
    assert!(
        created.len() == 1
            && created[0].collection.as_deref() == Some("invoices")
            && !sent.used("dropIndexes"),
        "index_unpaid_lookup must create its index with one createIndexes on invoices \
         (create_index), and drop nothing: it sent {}. Call create_index at every start: when \
         the same index is already there the server changes nothing, whereas looking first for \
         an index by its keys may find one that does not serve the query (invoices already has \
         paid_by_customer, on customer_id and status but of the paid invoices only)",
        sent.listing()
    );
    let indexes_after = indexes(db, "invoices").await;
    let new: Vec<Document> = indexes_after
        .iter()
        .filter(|index| !indexes_before.contains(index))
        .cloned()
        .collect();
    assert!(
        indexes_before
            .iter()
            .all(|index| indexes_after.contains(index)),
        "index_unpaid_lookup must leave the other indexes of invoices as they were (the lessons \
         rely on them): before {}; after {}",
        describe(&indexes_before),
        describe(&indexes_after)
    );
    let Some(index) = indexes_after
        .iter()
        .find(|index| index.get_str("name").ok() == Some(name.as_str()))
    else {
        panic!(
            "index_unpaid_lookup must return the name of the index it created (the index_name of \
             create_index's answer); it returned {name:?}, and the new indexes are {}",
            describe(&new)
        );
    };
    let keys = fields(index);
    let mut first_two: Vec<&str> = keys.iter().take(2).map(String::as_str).collect();
    first_two.sort_unstable();
    // MongoDB's Equality-Sort-Range rule counts an `$in` with a sort as a
    // range: the sort field may come before status.
    let by_esr =
        keys.iter()
            .take(3)
            .map(String::as_str)
            .eq(["customer_id", "invoice_date", "status"]);
    assert!(
        first_two == ["customer_id", "status"] || by_esr,
        "the index must start with the fields the filter tests for equality, customer_id and \
         status (a field only sorted on, like invoice_date, may follow them, or, by the \
         Equality-Sort-Range rule, come between customer_id and status): an index on \
         customer_id alone still reads the paid invoices, and a range or sort field first makes \
         the server read entries it throws away; the index's keys are {keys:?}"
    );
    let after = explain_find(db, "invoices", filter).await.unwrap();
    assert!(
        after.uses_index(&name),
        "the unpaid invoices query must use the new index {name}: {after}"
    );
    assert_eq!(
        after.docs_examined, after.returned,
        "with an index on both fields of the filter, every invoice the server reads is one it \
         returns: {after}"
    );

    let again = index_unpaid_lookup(db).await.unwrap_or_else(|error| {
        panic!(
            "index_unpaid_lookup returned an error the second time: creating the same index \
             again (same keys, same name) is not an error, so the function can run at every \
             start; give the index the same name every time (or let the driver name it): {}",
            short(&error)
        )
    });
    assert_eq!(
        again, name,
        "running index_unpaid_lookup twice must give the same index, by the same name"
    );
    assert_eq!(
        indexes(db, "invoices").await,
        indexes_after,
        "running index_unpaid_lookup twice must leave one index, not two or a rebuilt set"
    );
    assert_eq!(
        db.list_collection_names().await.unwrap().len(),
        collections_before.len(),
        "index_unpaid_lookup must create its index on invoices, and no collection"
    );
    assert!(
        inspect::documents(db, "invoices").await == invoices_before,
        "index_unpaid_lookup must not change any invoice: an index changes how the server finds \
         documents, not the documents"
    );

    // A server that is not there: no index can be created.
    let outcome =
        lab::testing::with_mongodb_down(db.name(), "index_unpaid_lookup", |down| async move {
            index_unpaid_lookup(&down).await
        })
        .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached (this database handle points at a server that is down), \
         yet index_unpaid_lookup answered {outcome:?}: an index the server never created has no \
         name to give; pass the driver's error on with `?` and return the index_name the server \
         answered, or the caller believes the query is served by an index that does not exist"
    );
}

#[tokio::test]
async fn a_unique_index_refuses_a_second_customer_with_the_same_email() {
    let env = TestEnv::start().await;
    let db = env.database();
    let customers = db.collection::<Document>("customers");
    let ada = customers
        .insert_one(doc! { "name": "Ada", "email": "ada@example.com" })
        .await
        .unwrap()
        .inserted_id;

    let recording = env.record_mongo();
    make_emails_unique(db)
        .await
        .expect("make_emails_unique returned an error");
    let sent = recording.finish();
    let created = sent.all("createIndexes");
    assert!(
        created.len() == 1 && created[0].collection.as_deref() == Some("customers"),
        "make_emails_unique must ask the database to keep emails unique, with one createIndexes \
         on customers (a unique index on email); it sent {}",
        sent.listing()
    );
    assert!(
        !sent.used("dropIndexes"),
        "make_emails_unique must drop nothing: it sent {}. Dropping the indexes of customers \
         first removes the ones other queries rely on, at every start, and leaves a moment when \
         nothing keeps emails unique; create_index alone is enough, the server changes nothing \
         when the same index is already there",
        sent.listing()
    );
    let listed = indexes(db, "customers").await;
    assert!(
        listed
            .iter()
            .any(|index| fields(index) == ["email"] && index.get_bool("unique").ok() == Some(true)),
        "customers must have an index on email alone with unique: true \
         (IndexOptions::builder().unique(true)); a plain index speeds up lookups but refuses \
         nothing; the server lists {}",
        describe(&listed)
    );

    let refused = customers
        .insert_one(doc! { "name": "Ada again", "email": "ada@example.com" })
        .await
        .expect_err(
            "a second customer with ada@example.com must be refused by the server: the unique \
             index on email does it",
        );
    assert_eq!(
        write_code(&refused),
        Some(11000),
        "a second ada@example.com must be refused as a duplicate key (code 11000), by the unique \
         index: {}",
        short(&refused)
    );
    customers
        .insert_one(doc! { "name": "Grace", "email": "grace@example.com" })
        .await
        .expect("other emails must still be welcome: the index refuses only a duplicate email");

    assert!(
        is_duplicate(&refused),
        "is_duplicate must recognise the server refusing a duplicate key: a write error \
         (ErrorKind::Write(WriteFailure::WriteError)) with code 11000: {}",
        short(&refused)
    );
    let grace_as_ada = customers
        .update_one(
            doc! { "name": "Grace" },
            doc! { "$set": { "email": "ada@example.com" } },
        )
        .await
        .expect_err("giving Grace Ada's email must be refused by the unique index on email");
    assert!(
        is_duplicate(&grace_as_ada),
        "an update that would give Grace Ada's email is refused with code 11000 too, and \
         is_duplicate must say so: {}",
        short(&grace_as_ada)
    );
    let same_id = customers
        .insert_one(doc! { "_id": ada, "name": "Ada, imported twice" })
        .await
        .expect_err("a second customer with Ada's _id must be refused: _id is always unique");
    assert_eq!(
        write_code(&same_id),
        Some(11000),
        "the harness expected a second customer with Ada's _id to be refused with code 11000: {}",
        short(&same_id)
    );
    assert!(
        is_duplicate(&same_id),
        "a second customer with Ada's _id is refused by the unique index on _id, with code 11000 \
         and a message that names no email: is_duplicate must say true for code 11000 whichever \
         unique index refused the write (read the code alone, not the message's wording, which \
         is no contract): {}",
        short(&same_id)
    );

    let not_a_number = customers
        .update_one(doc! { "name": "Grace" }, doc! { "$inc": { "name": 1 } })
        .await
        .expect_err("the harness expected $inc of a text field to be refused");
    assert!(
        write_code(&not_a_number).is_some_and(|code| code != 11000),
        "the harness expected a write error of another kind here: {}",
        short(&not_a_number)
    );
    assert!(
        !is_duplicate(&not_a_number),
        "is_duplicate must look at the write error's code, 11000, not only at its kind: another \
         write error (here $inc of a text field) is no duplicate: {}",
        short(&not_a_number)
    );
    let lost = Error::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "the connection to the server was reset",
    ));
    assert!(
        !is_duplicate(&lost),
        "a lost connection is no duplicate: is_duplicate must be true for code 11000 only, so \
         the caller retries the other errors rather than telling the customer the email is taken"
    );
    assert!(
        !is_duplicate(&Error::custom("a lost connection")),
        "an error of the program's own (Error::custom) is no duplicate: is_duplicate must be \
         true for the server's code 11000 only"
    );
    let quoting = Error::custom(format!(
        "the customer import stopped at line 2 ({})",
        short(&refused)
    ));
    assert!(
        !is_duplicate(&quoting),
        "is_duplicate must read the code, 11000, from the server's write error, not search the \
         error's text for E11000: an error of the program's own that quotes a duplicate (here \
         {quoting}) is no refusal of this write by the server, and a message's wording is no \
         contract"
    );

    let stored: Vec<Document> = inspect::documents(db, "customers")
        .await
        .into_iter()
        .map(|mut customer| {
            customer.remove("_id");
            customer
        })
        .collect();
    let snapshot: Vec<serde_json::Value> = listed
        .iter()
        .map(|index| serde_json::json!({ "fields": fields(index), "unique": index.get_bool("unique").unwrap_or(false) }))
        .collect();
    lab::graded_snapshot!(
        "indexes_unique_email",
        serde_json::json!({
            "indexes_on_customers": snapshot,
            "customers_after_the_duplicate": json(&Bson::Array(stored.into_iter().map(Bson::Document).collect())),
        }),
        "make_emails_unique must leave customers with the _id index and one unique index on \
         email, and the customers as they were: Ada, then Grace, and no second Ada"
    );

    // A register that already holds a duplicate: the server cannot build
    // the index, and that refusal must reach the caller.
    customers.drop_indexes().await.unwrap();
    customers
        .insert_one(doc! { "name": "Ada again", "email": "ada@example.com" })
        .await
        .unwrap();
    let outcome = make_emails_unique(db).await;
    assert!(
        outcome.is_err(),
        "customers already holds ada@example.com twice, so the server refuses to build a unique \
         index on email; make_emails_unique answered {outcome:?}: pass the server's refusal on \
         (`?` on create_index), or the caller believes emails are protected while nothing \
         refuses a duplicate"
    );

    // A register without duplicates, but with a plain (non-unique) index on
    // email from an earlier lesson: the server refuses a unique index on the
    // same key, and Ok would promise what nothing enforces.
    customers
        .delete_one(doc! { "name": "Ada again" })
        .await
        .unwrap();
    customers
        .create_index(IndexModel::builder().keys(doc! { "email": 1 }).build())
        .await
        .unwrap();
    if make_emails_unique(db).await.is_ok() {
        let second = customers
            .insert_one(doc! { "name": "Ada once more", "email": "ada@example.com" })
            .await;
        assert!(
            second.is_err(),
            "customers already had a plain index on email (email_1, not unique, as an earlier \
             lesson leaves it), make_emails_unique answered Ok(()), and yet a second customer \
             with ada@example.com was stored: the server does not build a unique index on a key \
             a plain index already covers, it refuses it with an index conflict. That refusal is \
             an error to pass on with `?`, not an index already there: Ok(()) promises that a \
             second customer with an email already used fails"
        );
    }
}
