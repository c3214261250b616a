//! Graded tests of the modelling exercise, shared by `exercises` and `solutions`.
//!
//! Besides the documents left behind, the tests look at the commands sent
//! (`TestEnv::record_mongo`): an invoice is one insert of one document with
//! its items inside, the customer is read through `customer_id`, and a new
//! email is one update of the customer that leaves every invoice alone.

use super::modelling::*;
use lab::billing::Money;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::mongodb::Collection;
use lab::testing::{MongoCommand, MongoLog, TestEnv, inspect};

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

fn collection(env: &TestEnv, name: &str) -> Collection<Document> {
    env.database().collection(name)
}

/// Ada, put in by the harness.
async fn customer(env: &TestEnv) -> ObjectId {
    let id = ObjectId::new();
    collection(env, "customers")
        .insert_one(doc! { "_id": id, "name": "Ada", "email": "ada@example.com" })
        .await
        .unwrap();
    id
}

/// An invoice for `customer` as the answer key stores it, put in by the
/// harness (so reading and changing are graded without `save_invoice`).
async fn invoice_of(env: &TestEnv, customer: ObjectId) -> ObjectId {
    let id = ObjectId::new();
    collection(env, "invoices")
        .insert_one(doc! {
            "_id": id,
            "customer_id": customer,
            "items": [
                { "description": "Web Hosting", "quantity": 2, "unit_price": money("50.00"), "total": money("100.00") },
                { "description": "Domain", "quantity": 1, "unit_price": money("15.00"), "total": money("15.00") },
            ],
            "total_amount": money("115.00"),
        })
        .await
        .unwrap();
    id
}

/// The first document of `after` that is not in `before`, as JSON, for a
/// failure message.
fn first_changed(before: &[Document], after: &[Document]) -> String {
    after
        .iter()
        .find(|d| !before.contains(d))
        .map_or("(a document is missing)".to_owned(), |d| {
            inspect::shown(&Bson::Document(d.clone())).to_string()
        })
}

fn lines() -> [Line<'static>; 2] {
    [
        Line {
            description: "Web Hosting",
            quantity: 2,
            unit_price: money("50.00"),
        },
        Line {
            description: "Domain",
            quantity: 1,
            unit_price: money("15.00"),
        },
    ]
}

/// Whether `filter` selects by `_id` equal to `id` (`{_id: id}` or
/// `{_id: {$eq: id}}`).
fn selects_id(filter: Option<&Document>, id: ObjectId) -> bool {
    match filter.and_then(|f| f.get("_id")) {
        Some(Bson::ObjectId(found)) => *found == id,
        Some(Bson::Document(condition)) => condition.get_object_id("$eq").ok() == Some(id),
        _ => false,
    }
}

/// Whether an `aggregate` `$match`es `invoice` by `_id` before any stage
/// that could change which documents flow on, so the server joins that one
/// invoice and no other. Only `$lookup`, `$unwind`, `$set` and `$addFields`
/// not touching `_id` may come first: MongoDB moves such a `$match` ahead of
/// them itself.
fn matches_the_invoice_first(aggregate: &MongoCommand, invoice: ObjectId) -> bool {
    let Ok(stages) = aggregate.body.get_array("pipeline") else {
        return false;
    };
    for stage in stages.iter().filter_map(Bson::as_document) {
        let Some((name, spec)) = stage.iter().next() else {
            return false;
        };
        let touches_id = match (name.as_str(), spec) {
            ("$match", Bson::Document(filter)) => return selects_id(Some(filter), invoice),
            ("$lookup", Bson::Document(lookup)) => lookup.get_str("as").ok() == Some("_id"),
            ("$unwind", Bson::String(path)) => path == "$_id",
            ("$unwind", Bson::Document(unwind)) => unwind.get_str("path").ok() == Some("$_id"),
            ("$set" | "$addFields", Bson::Document(fields)) => fields.contains_key("_id"),
            _ => true,
        };
        if touches_id {
            return false;
        }
    }
    false
}

/// Whether the commands read the invoice by `_id` and then its customer by
/// `_id` (two `find`s), or joined them with one `aggregate` that first
/// `$match`es the invoice by `_id`, then `$lookup`s its customer.
fn read_through_the_reference(sent: &MongoLog, invoice: ObjectId, customer: ObjectId) -> bool {
    match sent.commands.as_slice() {
        [first, second] => {
            first.name == "find"
                && first.collection.as_deref() == Some("invoices")
                && selects_id(first.body.get_document("filter").ok(), invoice)
                && second.name == "find"
                && second.collection.as_deref() == Some("customers")
                && selects_id(second.body.get_document("filter").ok(), customer)
        }
        [only] => {
            only.name == "aggregate"
                && only.collection.as_deref() == Some("invoices")
                && matches_the_invoice_first(only, invoice)
                && only.stages().iter().any(|s| s == "$lookup")
        }
        _ => false,
    }
}

/// Whether an update (`u` of a statement, `update` of a `findAndModify`)
/// sets fields: a document with `$set`, or an update pipeline of `$set`
/// (alias `$addFields`) stages.
fn sets_fields(update: Option<&Bson>) -> bool {
    match update {
        Some(Bson::Document(u)) => u.contains_key("$set"),
        Some(Bson::Array(stages)) => {
            !stages.is_empty()
                && stages.iter().all(|stage| {
                    stage
                        .as_document()
                        .and_then(|s| s.keys().next())
                        .is_some_and(|name| name == "$set" || name == "$addFields")
                })
        }
        _ => false,
    }
}

#[tokio::test]
async fn items_are_embedded_and_the_customer_is_referenced() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    let recording = env.record_mongo();
    let id = save_invoice(env.database(), ada, &lines())
        .await
        .expect("save_invoice returned an error");
    let sent = recording.finish();
    let invoices = inspect::documents(env.database(), "invoices").await;
    assert_eq!(
        invoices.len(),
        1,
        "save_invoice writes one invoice document, `invoices` holds {}",
        invoices.len()
    );
    let stored = &invoices[0];
    assert_eq!(
        stored.get("_id"),
        Some(&Bson::ObjectId(id)),
        "the returned id must be the stored invoice's `_id`"
    );
    let expected_items = Bson::from(vec![
        doc! {
            "description": "Web Hosting", "quantity": 2,
            "unit_price": money("50.00"), "total": money("100.00"),
        },
        doc! {
            "description": "Domain", "quantity": 1,
            "unit_price": money("15.00"), "total": money("15.00"),
        },
    ]);
    assert!(
        stored.get("items") == Some(&expected_items),
        "line items are embedded: an array `items` of documents {{description, quantity, \
         unit_price, total}} inside the invoice, amounts as Decimal128 (`Bson::from(money)`, never \
         a double or a string), quantities as 32-bit integers, total = quantity * unit_price; \
         expected {}, the invoice holds {}",
        inspect::shown(&expected_items),
        stored
            .get("items")
            .map_or("no `items`".to_owned(), |items| inspect::shown(items)
                .to_string())
    );
    let mut fields: Vec<&str> = stored.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["_id", "customer_id", "items", "total_amount"],
        "the customer is referenced, not copied: the invoice holds `customer_id` and none of the \
         customer's fields (a copied email goes stale when the customer changes it)"
    );
    assert_eq!(
        stored.get("customer_id"),
        Some(&Bson::ObjectId(ada)),
        "`customer_id` is the customer's `_id`, an ObjectId"
    );
    assert!(
        stored.get("total_amount") == Some(&Bson::from(money("115.00"))),
        "`total_amount` is the sum of the item totals (100.00 + 15.00), as Decimal128; the \
         invoice holds {}",
        stored
            .get("total_amount")
            .map_or("no `total_amount`".to_owned(), |t| inspect::shown(t)
                .to_string())
    );
    let one_insert = sent.names() == ["insert"]
        && sent.commands[0].collection.as_deref() == Some("invoices")
        && sent.commands[0].documents() == 1;
    assert!(
        one_insert,
        "an invoice with its items is one document written with one insert_one into `invoices` \
         (one document is one atomic write): save_invoice sent {}; the customer is referenced by \
         id, so nothing needs reading first, and the items go in with the invoice, not after it",
        sent.listing()
    );
    let mut collections = env.database().list_collection_names().await.unwrap();
    collections.sort();
    assert_eq!(
        collections,
        ["customers", "invoices"],
        "items live inside the invoice, not in a collection of their own"
    );
    lab::graded_snapshot!(
        "modelling_invoice",
        inspect::shown(&Bson::Document(stored.clone())),
        "the stored invoice must be `{_id, customer_id, items: [{description, quantity, \
         unit_price, total}], total_amount}` with every amount a Decimal128 and the quantities \
         32-bit integers",
        { "._id" => "[id]", ".customer_id" => "[customer id]" }
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        [doc! { "_id": ada, "name": "Ada", "email": "ada@example.com" }],
        "saving an invoice leaves the customer as they were"
    );
    let huge = Line {
        description: "Screws",
        quantity: 3_000_000_000,
        unit_price: money("0.01"),
    };
    let answer = save_invoice(env.database(), ada, &[huge]).await;
    let after = inspect::documents(env.database(), "invoices").await;
    assert!(
        answer.is_err() && after.len() == 1,
        "a quantity of 3000000000 does not fit the 32-bit integer it is stored as: save_invoice \
         must refuse it with an error and store nothing (`i32::try_from(line.quantity)`), where \
         `as i32` silently wraps it round to -1294967296; save_invoice answered {} and `invoices` \
         holds {}",
        match &answer {
            Ok(id) => format!("Ok({id})"),
            Err(error) => format!("the error {error}"),
        },
        inspect::shown(&Bson::Array(
            after.into_iter().map(Bson::Document).collect()
        ))
    );
    // Amounts past the billing model's limit of a billion: a line total,
    // then a sum of two lines that each keep within it.
    let dear = |quantity| Line {
        description: "Data centre",
        quantity,
        unit_price: money("1.00"),
    };
    for (lines, what) in [
        (vec![dear(2_000_000_000)], "a line total of 2000000000.00"),
        (
            vec![dear(600_000_000), dear(600_000_000)],
            "a total of 1200000000.00, from two lines of 600000000.00",
        ),
    ] {
        let answer = save_invoice(env.database(), ada, &lines).await;
        let stored = inspect::documents(env.database(), "invoices").await.len();
        assert!(
            answer.is_err() && stored == 1,
            "{what} is more than the billion any amount of the billing model may be, so the \
             lab's readers refuse such an invoice (and every list that holds it): save_invoice \
             must refuse it with an error and store nothing; check each line total and the \
             running total with `Money::within_limit` before the insert. save_invoice answered \
             {answer:?} and `invoices` holds {stored} invoice(s)"
        );
    }
    // MongoDB unreachable: the insert fails, and so must save_invoice.
    let answer =
        lab::testing::with_mongodb_down(env.database().name(), "save_invoice", |down| async move {
            save_invoice(&down, ada, &lines()).await
        })
        .await;
    assert!(
        answer.is_err(),
        "with MongoDB unreachable the insert failed and the invoice is not stored, yet \
         save_invoice answered {answer:?}: an id for an invoice that was never written sends the \
         caller after nothing; pass the insert's error on with `?`"
    );
}

#[tokio::test]
async fn the_customer_is_read_through_the_reference() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    // More than the invoice shows: the customer read must keep it all.
    collection(&env, "customers")
        .update_one(
            doc! { "_id": ada },
            doc! { "$set": { "phone": "+44 20 7946 0018", "address": { "city": "London" } } },
        )
        .await
        .unwrap();
    let id = invoice_of(&env, ada).await;
    let recording = env.record_mongo();
    let found = invoice_with_customer(env.database(), id)
        .await
        .expect("invoice_with_customer returned an error");
    let sent = recording.finish();
    let (invoice, customer) = found.expect(
        "invoice_with_customer gave None for an invoice whose customer exists: read the invoice \
         by `_id`, then the customer whose `_id` is the invoice's `customer_id`",
    );
    assert!(
        invoice == inspect::documents(env.database(), "invoices").await[0],
        "the first document is the whole invoice as stored, items and all; it was {}",
        inspect::shown(&Bson::Document(invoice.clone()))
    );
    assert!(
        customer == inspect::documents(env.database(), "customers").await[0],
        "the second document is the whole customer the invoice's `customer_id` names, as stored \
         in `customers`; it was {}. A projection hands back a cut-down copy: the customer's \
         phone and address are lost to every caller, who asked for the customer, not for what \
         one page shows; read it with find_one by `_id` and no projection",
        inspect::shown(&Bson::Document(customer.clone()))
    );
    assert!(
        read_through_the_reference(&sent, id, ada),
        "reading through the reference is two queries, each by `_id` (answered from the `_id` \
         index): the invoice, then the customer its `customer_id` names; or one aggregate on \
         `invoices` that `$lookup`s its customer and `$match`es the invoice's `_id` first (or \
         right after the join, where the server moves it ahead); without that `$match` every \
         invoice is joined and sent over; not every \
         invoice or customer read and searched in Rust; invoice_with_customer sent {}",
        sent.listing()
    );
    assert_eq!(
        invoice_with_customer(env.database(), ObjectId::new())
            .await
            .expect("invoice_with_customer returned an error for an unknown invoice"),
        None,
        "an unknown invoice gives None"
    );
    let orphan = invoice_of(&env, ObjectId::new()).await;
    let without_customer = invoice_with_customer(env.database(), orphan)
        .await
        .expect("invoice_with_customer returned an error for an invoice without its customer");
    assert!(
        without_customer.is_none(),
        "a `customer_id` can point at nothing (MongoDB does not enforce references): an invoice \
         whose customer is missing gives None, not {}",
        without_customer.map_or(String::new(), |(_, customer)| format!(
            "an invoice with the customer {}",
            inspect::shown(&Bson::Document(customer))
        ))
    );
    // A server that is not there: the read fails.
    let outcome = lab::testing::with_mongodb_down(
        env.database().name(),
        "invoice_with_customer",
        |down| async move { invoice_with_customer(&down, id).await },
    )
    .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached (this database handle points at a server that is down), \
         so nobody knows whether the invoice or its customer exists, yet invoice_with_customer \
         answered {outcome:?}: a read that failed is an error, not a missing document; pass the \
         driver's error on with `?`, or the caller shows \"not found\" during an outage"
    );
    let malformed = ObjectId::new();
    collection(&env, "invoices")
        .insert_one(doc! { "_id": malformed, "items": [], "total_amount": money("0.00") })
        .await
        .unwrap();
    let db = env.database().clone();
    let answer = tokio::spawn(async move { invoice_with_customer(&db, malformed).await }).await;
    assert!(
        matches!(answer, Ok(Ok(None)) | Ok(Err(_))),
        "an invoice without `customer_id` has no customer to read: answer None (or an error), do \
         not panic and do not invent a customer; invoice_with_customer {}",
        match &answer {
            Err(_) => "panicked".to_owned(),
            Ok(other) => format!("answered {other:?}"),
        }
    );
}

#[tokio::test]
async fn a_new_email_is_one_update_and_every_invoice_sees_it() {
    let env = TestEnv::start().await;
    let ada = customer(&env).await;
    for _ in 0..3 {
        invoice_of(&env, ada).await;
    }
    let invoices_before = inspect::documents(env.database(), "invoices").await;
    let recording = env.record_mongo();
    let changed = change_email(env.database(), ada, "ada@lovelace.example")
        .await
        .expect("change_email returned an error");
    let sent = recording.finish();
    assert!(
        changed,
        "changing the email of a customer who exists answers true"
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        [doc! { "_id": ada, "name": "Ada", "email": "ada@lovelace.example" }],
        "the customer document has the new email and keeps its other fields (`$set`)"
    );
    let invoices_after = inspect::documents(env.database(), "invoices").await;
    assert!(
        invoices_after == invoices_before,
        "changing an email does not touch invoices: they reference the customer by id, so every \
         invoice sees the new email without being written; an invoice now reads {}",
        first_changed(&invoices_before, &invoices_after)
    );
    let one_update = match sent.commands.as_slice() {
        [command] if command.collection.as_deref() == Some("customers") => {
            match command.name.as_str() {
                "update" => match command.statements().as_slice() {
                    // update_many by `_id` matches one document too.
                    [statement] => {
                        sets_fields(statement.get("u"))
                            && (!statement.get_bool("multi").unwrap_or(false)
                                || statement.get_document("q").ok() == Some(&doc! { "_id": ada }))
                            && !command.upserts()
                    }
                    _ => false,
                },
                "findAndModify" => sets_fields(command.body.get("update")) && !command.upserts(),
                _ => false,
            }
        }
        _ => false,
    };
    assert!(
        one_update,
        "a new email is one update_one of one document, the customer, with `$set` (or an update \
         pipeline of `$set` stages) and no upsert, whatever the number of their invoices: \
         change_email sent {}",
        sent.listing()
    );
    assert!(
        change_email(env.database(), ada, "ada@lovelace.example")
            .await
            .expect("change_email returned an error"),
        "setting the email a customer already has still matched them (matched 1, modified 0): \
         report matched_count, not modified_count"
    );
    let customers_before = inspect::documents(env.database(), "customers").await;
    assert!(
        !change_email(env.database(), ObjectId::new(), "x@example.com")
            .await
            .expect("change_email returned an error for an unknown customer"),
        "an unknown customer is reported as false"
    );
    assert_eq!(
        inspect::documents(env.database(), "customers").await,
        customers_before,
        "changing the email of an unknown customer changes nothing and creates no customer: no \
         upsert"
    );
    let invoices_after = inspect::documents(env.database(), "invoices").await;
    assert!(
        invoices_after == invoices_before,
        "changing the email of an unknown customer touches no invoice; an invoice now reads {}",
        first_changed(&invoices_before, &invoices_after)
    );
    change_email(env.database(), ada, "$Ada.Lovelace@Example.com")
        .await
        .expect("change_email returned an error for the email `$Ada.Lovelace@Example.com`");
    let stored = inspect::documents(env.database(), "customers").await;
    let email = stored.first().and_then(|c| c.get_str("email").ok());
    assert_eq!(
        email,
        Some("$Ada.Lovelace@Example.com"),
        "change_email stores the email exactly as given, capitals and a leading `$` included; \
         Ada's is now {email:?}. Changing its case is not this function's business (the part \
         before the @ may be case-sensitive, and a lookup by the email as given no longer finds \
         her). The `$set` operator stores its values as they are, but in an update pipeline \
         (`vec![doc! {{\"$set\": ...}}]`) a string that starts with `$` is a field path, so there \
         wrap the email in `{{\"$literal\": email}}`"
    );

    // An address without an @ is not this function's to judge, and it is
    // certainly not an unknown customer.
    let odd = change_email(env.database(), ada, "ada.lovelace").await;
    assert!(
        !matches!(odd, Ok(false)),
        "change_email answered false for Ada, who exists, given the address \"ada.lovelace\": \
         false means there is no such customer, and an address without an @ is not an unknown \
         customer. Store the address as given (checking addresses is the sign-up form's job), or \
         answer an error that says what is wrong with it"
    );

    // Emails made unique, and Grace already has the one Ada asks for: the
    // server refuses the update (a duplicate key).
    lab::testing::unique_index(&collection(&env, "customers"), doc! { "email": 1 }).await;
    collection(&env, "customers")
        .insert_one(doc! { "name": "Grace", "email": "grace@example.com" })
        .await
        .unwrap();
    let refused = change_email(env.database(), ada, "grace@example.com").await;
    assert!(
        refused.is_err(),
        "the server refused Ada's new email (Grace has it, and emails are unique), yet \
         change_email answered {refused:?}: a refused update is not an unknown customer; pass \
         the driver's error on with `?`, so the caller can tell \"taken\" from \"no such \
         customer\""
    );
}
