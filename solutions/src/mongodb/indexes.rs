//! Indexes: make a frequent query read only what it returns, and let the
//! database refuse duplicate emails.
//!
//! Scenario: the billing API asks "the unpaid invoices of this customer"
//! all day, and the customer register must never hold two customers with
//! one email. Both are jobs for an index; `explain` shows whether the query
//! uses it.

use lab::bson::oid::ObjectId;
use lab::bson::{Document, doc};
use lab::mongodb::error::{Error, ErrorKind, Result, WriteFailure};
use lab::mongodb::options::IndexOptions;
use lab::mongodb::{Database, IndexModel};

/// The unpaid (`pending` or `overdue`) invoices of `customer`, oldest first
/// by `invoice_date`.
/// Each invoice comes back whole, as stored.
pub async fn unpaid_invoices_of(db: &Database, customer: ObjectId) -> Result<Vec<Document>> {
    let mut cursor = db
        .collection::<Document>("invoices")
        .find(doc! { "customer_id": customer, "status": { "$in": ["pending", "overdue"] } })
        .sort(doc! { "invoice_date": 1 })
        .await?;
    let mut found = Vec::new();
    while cursor.advance().await? {
        found.push(cursor.deserialize_current()?);
    }
    Ok(found)
}

/// Creates the index that lets [`unpaid_invoices_of`] read only the
/// invoices it returns, and returns the index's name. Running it twice is
/// not an error.
pub async fn index_unpaid_lookup(db: &Database) -> Result<String> {
    // Both fields of the filter, equality first: the server jumps straight
    // to this customer's pending and overdue entries.
    let model = IndexModel::builder()
        .keys(doc! { "customer_id": 1, "status": 1 })
        .build();
    let created = db
        .collection::<Document>("invoices")
        .create_index(model)
        .await?;
    Ok(created.index_name)
}

/// Makes `email` unique in `customers`: afterwards, inserting a second
/// customer with an email already used fails.
pub async fn make_emails_unique(db: &Database) -> Result<()> {
    let model = IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(IndexOptions::builder().unique(true).build())
        .build();
    db.collection::<Document>("customers")
        .create_index(model)
        .await?;
    Ok(())
}

/// Whether `error` is the server refusing a duplicate key (code 11000).
/// Any unique index may refuse one, `_id`'s included.
pub fn is_duplicate(error: &Error) -> bool {
    matches!(
        error.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == 11000
    )
}
