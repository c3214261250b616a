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
    // An ObjectId is unique without asking the server, so the id can be made
    // here and known before the insert.
    let id = ObjectId::new();
    let document = doc! { "_id": id, "name": name, "email": email, "address": { "city": city } };
    customers(db).insert_one(document).await?;
    Ok(id)
}

/// Inserts one customer per `(name, email, city)` in a single call and
/// returns how many were inserted.
pub async fn add_customers(db: &Database, people: &[(&str, &str, &str)]) -> Result<usize> {
    if people.is_empty() {
        // insert_many refuses an empty list.
        return Ok(0);
    }
    let documents = people.iter().map(|(name, email, city)| {
        doc! { "name": *name, "email": *email, "address": { "city": *city } }
    });
    let inserted = customers(db).insert_many(documents).await?;
    Ok(inserted.inserted_ids.len())
}

/// The customer with this email, with only `name`, `email` and
/// `address.city` (no `_id`), or `None` when there is no such customer
/// (a failed find is an error).
pub async fn find_by_email(db: &Database, email: &str) -> Result<Option<Document>> {
    customers(db)
        .find_one(doc! { "email": email })
        .projection(doc! { "_id": 0, "name": 1, "email": 1, "address.city": 1 })
        .await
}

/// The names of the customers in `city`, in alphabetical order, sorted by
/// the server; only the names travel (a projection).
pub async fn names_in_city(db: &Database, city: &str) -> Result<Vec<String>> {
    let mut cursor = customers(db)
        .find(doc! { "address.city": city })
        .sort(doc! { "name": 1 })
        .projection(doc! { "_id": 0, "name": 1 })
        .await?;
    let mut names = Vec::new();
    while cursor.advance().await? {
        let customer = cursor.deserialize_current()?;
        if let Ok(name) = customer.get_str("name") {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Sets the name of the customer with this email; `true` if one matched.
pub async fn rename(db: &Database, email: &str, new_name: &str) -> Result<bool> {
    let result = customers(db)
        .update_one(
            doc! { "email": email },
            doc! { "$set": { "name": new_name } },
        )
        .await?;
    Ok(result.matched_count == 1)
}

/// Adds `tag` to the `tags` array of every customer in `city`, once (a
/// customer who has it already is left as they are); returns how many
/// customers changed.
pub async fn tag_city(db: &Database, city: &str, tag: &str) -> Result<u64> {
    let result = customers(db)
        .update_many(
            doc! { "address.city": city },
            doc! { "$addToSet": { "tags": tag } },
        )
        .await?;
    Ok(result.modified_count)
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
    let result = customers(db)
        .replace_one(
            doc! { "_id": id },
            doc! { "name": name, "email": email, "address": { "city": city } },
        )
        .await?;
    Ok(result.matched_count == 1)
}

/// Counts a visit: increases `visits` of the customer with this email by
/// one, creating `{email, visits: 1}` if there is no such customer (an
/// upsert). Returns `true` when it created the customer.
pub async fn record_visit(db: &Database, email: &str) -> Result<bool> {
    let result = customers(db)
        .update_one(doc! { "email": email }, doc! { "$inc": { "visits": 1 } })
        .upsert(true)
        .await?;
    Ok(result.upserted_id.is_some())
}

/// Deletes the customer with this email; `true` if one was deleted.
pub async fn remove_customer(db: &Database, email: &str) -> Result<bool> {
    let result = customers(db).delete_one(doc! { "email": email }).await?;
    Ok(result.deleted_count == 1)
}

/// Deletes every customer in `city`; returns how many went.
pub async fn remove_city(db: &Database, city: &str) -> Result<u64> {
    let result = customers(db)
        .delete_many(doc! { "address.city": city })
        .await?;
    Ok(result.deleted_count)
}
