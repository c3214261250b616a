//! The nine CRUD calls on the customers collection.
//!
//! Scenario: the front desk keeps a small customer register in MongoDB, in
//! the collection `customers` of the database it is given. Each helper is
//! one driver call (or two); the graded tests look at what they leave in the
//! collection, not only at what they return.

use lab::bson::oid::ObjectId;
use lab::bson::{Document, doc};
use lab::mongodb::error::Result;
use lab::mongodb::{Collection, Database};

fn customers(db: &Database) -> Collection<Document> {
    db.collection("customers")
}

/// Inserts `{_id, name, email, address: {city}}` with a new ObjectId as
/// `_id`, and returns that id.
pub async fn add_customer(db: &Database, name: &str, email: &str, city: &str) -> Result<ObjectId> {
    // TODO: insert one document with a new ObjectId as `_id`, return the id.
    todo!()
}

/// Inserts one customer per `(name, email, city)` in a single call and
/// returns how many were inserted.
pub async fn add_customers(db: &Database, people: &[(&str, &str, &str)]) -> Result<usize> {
    // TODO: one insert_many call. The driver refuses an empty list: for none, answer 0 without a call.
    todo!()
}

/// The customer with this email, with only `name`, `email` and
/// `address.city` (no `_id`), or `None` when there is no such customer
/// (a failed find is an error).
pub async fn find_by_email(db: &Database, email: &str) -> Result<Option<Document>> {
    // TODO: find_one with a filter and a projection.
    todo!()
}

/// The names of the customers in `city`, in alphabetical order, sorted by
/// the server; only the names travel (a projection).
pub async fn names_in_city(db: &Database, city: &str) -> Result<Vec<String>> {
    // TODO: find on `address.city`, projecting the name, sorted by the
    // server; collect the names.
    todo!()
}

/// Sets the name of the customer with this email; `true` if one matched.
pub async fn rename(db: &Database, email: &str, new_name: &str) -> Result<bool> {
    // TODO: update_one with `$set`; report whether a customer matched.
    todo!()
}

/// Adds `tag` to the `tags` array of every customer in `city`, once (a
/// customer who has it already is left as they are); returns how many
/// customers changed.
pub async fn tag_city(db: &Database, city: &str, tag: &str) -> Result<u64> {
    // TODO: update_many with an operator that adds to an array only once.
    todo!()
}

/// Replaces the whole document of customer `id` by `{name, email,
/// address: {city}}`, keeping its `_id`; `true` if it existed.
pub async fn replace_customer(
    db: &Database,
    id: ObjectId,
    name: &str,
    email: &str,
    city: &str,
) -> Result<bool> {
    // TODO: replace_one by `_id`.
    todo!()
}

/// Counts a visit: increases `visits` of the customer with this email by
/// one, creating `{email, visits: 1}` if there is no such customer (an
/// upsert). Returns `true` when it created the customer.
pub async fn record_visit(db: &Database, email: &str) -> Result<bool> {
    // TODO: update_one with `$inc` and upsert; report whether it created the customer.
    todo!()
}

/// Deletes the customer with this email; `true` if one was deleted.
pub async fn remove_customer(db: &Database, email: &str) -> Result<bool> {
    // TODO: delete_one.
    todo!()
}

/// Deletes every customer in `city`; returns how many went.
pub async fn remove_city(db: &Database, city: &str) -> Result<u64> {
    // TODO: delete_many.
    todo!()
}
