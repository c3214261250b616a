//! Five aggregation pipelines on the billing data.
//!
//! Scenario: the finance team's questions, each answered by one pipeline
//! that runs in the database, on the collections `invoices` and `customers`
//! of the seeded data set. Amounts are Decimal128; read sums as
//! `lab::billing::Total` (`Total::from_bson`), which keeps every cent.

use lab::billing::Total;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::mongodb::error::{Error, Result};
use lab::mongodb::{Collection, Database};

fn invoices(db: &Database) -> Collection<Document> {
    db.collection("invoices")
}

/// Runs `pipeline` on the invoices and collects the documents it returns.
async fn run(db: &Database, pipeline: Vec<Document>) -> Result<Vec<Document>> {
    let mut cursor = invoices(db).aggregate(pipeline).await?;
    let mut rows = Vec::new();
    while cursor.advance().await? {
        rows.push(cursor.deserialize_current()?);
    }
    Ok(rows)
}

/// A sum from a pipeline's row, as an exact `Total`.
fn total(row: &Document, field: &str) -> Result<Total> {
    let value = row.get(field).unwrap_or(&Bson::Null);
    Total::from_bson(value).map_err(Error::custom)
}

/// The course notes' question: the total revenue (sum of `total_amount`) of
/// one customer's invoices, or `None` when they have no invoices. A failed
/// query, or a sum that is not an exact amount, is an error.
pub async fn revenue_of(db: &Database, customer: ObjectId) -> Result<Option<Total>> {
    // TODO: the course notes' `$match` + `$group` pipeline.
    todo!()
}

/// How many invoices have each status, as `(status, count)` in alphabetical
/// order of status.
pub async fn invoices_per_status(db: &Database) -> Result<Vec<(String, u64)>> {
    // TODO: `$group` on the status, counting; then `$sort`.
    todo!()
}

/// Revenue per month of `year`, by `invoice_date` (UTC), as `("YYYY-MM",
/// revenue)` in calendar order; months without invoices are left out.
/// Every instant of the year counts, to the millisecond.
pub async fn monthly_revenue(db: &Database, year: i32) -> Result<Vec<(String, Total)>> {
    // TODO: `$match` the year's dates, `$group` on `$dateToString`, `$sort`.
    todo!()
}

/// The `n` customers with the most revenue, best first (ties by customer
/// `_id`), as `(name, revenue)`: group the invoices, sort, limit, then
/// `$lookup` the names. `n` = 0 gives an empty list.
pub async fn top_customers(db: &Database, n: u32) -> Result<Vec<(String, Total)>> {
    // TODO: `$group`, `$sort`, `$limit`, then `$lookup` the names (and `$unwind`).
    todo!()
}

/// The `n` best-selling products by quantity over all invoices, as
/// `(description, quantity)`, most sold first (ties by description):
/// `$unwind` the line items, then group them. `n` = 0 gives an empty list.
pub async fn best_sellers(db: &Database, n: u32) -> Result<Vec<(String, i64)>> {
    // TODO: `$unwind` the items, then `$group` on the description.
    todo!()
}
