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
    // TODO: find with both conditions, sorted by invoice_date.
    todo!()
}

/// Creates the index that lets [`unpaid_invoices_of`] read only the
/// invoices it returns, and returns the index's name. Running it twice is
/// not an error.
pub async fn index_unpaid_lookup(db: &Database) -> Result<String> {
    // TODO: create the index that matches the query's filter; return its name.
    todo!()
}

/// Makes `email` unique in `customers`: afterwards, inserting a second
/// customer with an email already used fails.
pub async fn make_emails_unique(db: &Database) -> Result<()> {
    // TODO: create a unique index on `email`.
    todo!()
}

/// Whether `error` is the server refusing a duplicate key (code 11000).
/// Any unique index may refuse one, `_id`'s included.
pub fn is_duplicate(error: &Error) -> bool {
    // TODO: look at the error's kind for a write error with code 11000.
    todo!()
}
