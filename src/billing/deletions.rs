//! Deleting a customer without leaving invoices that point at nobody.
//!
//! A customer who has invoices is kept. Counting the invoices and deleting
//! the customer are two steps, and an invoice issued in between would be
//! left pointing at nobody. So the two writers check each other:
//!
//! - a deletion first [`announce`]s itself, with a marker in
//!   [`COLLECTION`], then counts the customer's invoices, and deletes only
//!   when there are none;
//! - a new invoice is written first, and then [`invoice_may_stay`] checks
//!   that its customer is still there and that no deletion of it has been
//!   announced; otherwise the invoice is taken back.
//!
//! If the invoice's check finds no marker, the invoice was written before
//! the marker, so the deletion's count, made after the marker, sees it. If
//! the check finds a marker or no customer, the invoice goes. Either way
//! no invoice outlives its customer. Each deletion has a marker of its own,
//! which only it [`withdraw`]s (two deletions of one customer at once must
//! not end each other's), and a marker counts for at most
//! [`MARKER_LIFETIME`], so one left by a process that died mid-deletion
//! blocks nothing for long.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{DateTime, Document, doc};
use mongodb::{Collection, Database};

use super::collections;

/// The collection of deletions under way: `{_id, customer, at}`, one per
/// deletion.
pub const COLLECTION: &str = "customer_deletions";

/// How long a deletion's marker counts. A deletion takes well under a
/// second; one that has not deleted by half this time gives up (the API's
/// `DELETE /customers/{id}`), so its marker never lapses while it runs.
pub const MARKER_LIFETIME: Duration = Duration::from_secs(60);

fn markers(database: &Database) -> Collection<Document> {
    database.collection(COLLECTION)
}

/// One deletion under way, as [`announce`] recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    marker: ObjectId,
}

/// Records that customer `id` is about to be deleted. Count the customer's
/// invoices only after this, and [`withdraw`] the deletion when done, well
/// within [`MARKER_LIFETIME`].
pub async fn announce(database: &Database, id: ObjectId) -> mongodb::error::Result<Deletion> {
    let marker = ObjectId::new();
    markers(database)
        .insert_one(doc! { "_id": marker, "customer": id, "at": DateTime::now() })
        .await?;
    Ok(Deletion { marker })
}

/// Ends `deletion`, whether the customer went or stayed.
pub async fn withdraw(database: &Database, deletion: Deletion) -> mongodb::error::Result<()> {
    markers(database)
        .delete_one(doc! { "_id": deletion.marker })
        .await?;
    Ok(())
}

/// Whether an invoice just written for `customer` may stay: the customer
/// exists and no deletion of it is under way. Call after the invoice is in
/// MongoDB; when this is `false`, delete the invoice again.
pub async fn invoice_may_stay(
    database: &Database,
    customer: ObjectId,
) -> mongodb::error::Result<bool> {
    let since = DateTime::from_millis(
        DateTime::now().timestamp_millis() - MARKER_LIFETIME.as_millis() as i64,
    );
    // Markers first, then the customer: the other order lets a deletion
    // that announces itself and ends between the two go unseen.
    let deleting = markers(database)
        .count_documents(doc! { "customer": customer, "at": { "$gte": since } })
        .await?;
    if deleting > 0 {
        return Ok(false);
    }
    let exists = collections::customers(database)
        .count_documents(doc! { "_id": customer })
        .await?;
    Ok(exists > 0)
}
