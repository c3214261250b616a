//! Where billing documents live in MongoDB, and the indexes the lessons use.

use bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

use super::customer::Customer;
use super::invoice::Invoice;

/// The customers collection's name.
pub const CUSTOMERS: &str = "customers";
/// The invoices collection's name.
pub const INVOICES: &str = "invoices";

/// The customers collection, typed: documents come back as checked [`Customer`]s.
pub fn customers(database: &Database) -> Collection<Customer> {
    database.collection(CUSTOMERS)
}

/// The invoices collection, typed: documents come back as checked [`Invoice`]s.
pub fn invoices(database: &Database) -> Collection<Invoice> {
    database.collection(INVOICES)
}

/// Creates the indexes the lessons rely on; running it again changes nothing.
///
/// - `customers.email`, unique: a customer is looked up by email, and two
///   customers may not share one.
/// - `invoices.customer_id`: every "invoices of this customer" query and the
///   revenue-per-customer pipeline's `$match`.
/// - `invoices.status` then `due_date`: the overdue report.
/// - `invoices.invoice_date`: reports over a date range.
pub async fn ensure_indexes(database: &Database) -> mongodb::error::Result<()> {
    ensure_indexes_on(database, CUSTOMERS, INVOICES).await
}

/// [`ensure_indexes`] on collections with other names; the data set loader
/// builds the indexes on its staging collections before publishing them.
pub async fn ensure_indexes_on(
    database: &Database,
    customers_name: &str,
    invoices_name: &str,
) -> mongodb::error::Result<()> {
    let unique = IndexOptions::builder()
        .unique(true)
        .name("email_unique".to_owned())
        .build();
    database
        .collection::<Customer>(customers_name)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "email": 1 })
                .options(unique)
                .build(),
        )
        .await?;
    let invoice_indexes = [
        doc! { "customer_id": 1 },
        doc! { "status": 1, "due_date": 1 },
        doc! { "invoice_date": 1 },
    ]
    .map(|keys| IndexModel::builder().keys(keys).build());
    // One at a time: the embedded server can stall on write conflicts when
    // several indexes are built over a large collection at once.
    let invoices = database.collection::<Invoice>(invoices_name);
    for index in invoice_indexes {
        invoices.create_index(index).await?;
    }
    Ok(())
}
