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
    let rows = run(
        db,
        vec![
            doc! { "$match": { "customer_id": customer } },
            doc! { "$group": { "_id": "$customer_id", "total_revenue": { "$sum": "$total_amount" } } },
        ],
    )
    .await?;
    rows.first()
        .map(|row| total(row, "total_revenue"))
        .transpose()
}

/// How many invoices have each status, as `(status, count)` in alphabetical
/// order of status.
pub async fn invoices_per_status(db: &Database) -> Result<Vec<(String, u64)>> {
    let rows = run(
        db,
        vec![
            doc! { "$group": { "_id": "$status", "count": { "$sum": 1 } } },
            doc! { "$sort": { "_id": 1 } },
        ],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let status = row.get_str("_id").unwrap_or_default().to_owned();
            let count = row.get_i32("count").map_or(0, |n| n as u64);
            (status, count)
        })
        .collect())
}

/// Revenue per month of `year`, by `invoice_date` (UTC), as `("YYYY-MM",
/// revenue)` in calendar order; months without invoices are left out.
/// Every instant of the year counts, to the millisecond.
pub async fn monthly_revenue(db: &Database, year: i32) -> Result<Vec<(String, Total)>> {
    let start = lab::bson::DateTime::builder()
        .year(year)
        .month(1)
        .day(1)
        .build()
        .map_err(Error::custom)?;
    let end = lab::bson::DateTime::builder()
        .year(year + 1)
        .month(1)
        .day(1)
        .build()
        .map_err(Error::custom)?;
    let rows = run(
        db,
        vec![
            doc! { "$match": { "invoice_date": { "$gte": start, "$lt": end } } },
            doc! { "$group": {
                "_id": { "$dateToString": { "format": "%Y-%m", "date": "$invoice_date" } },
                "revenue": { "$sum": "$total_amount" },
            } },
            doc! { "$sort": { "_id": 1 } },
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.get_str("_id").unwrap_or_default().to_owned(),
                total(row, "revenue")?,
            ))
        })
        .collect()
}

/// The `n` customers with the most revenue, best first (ties by customer
/// `_id`), as `(name, revenue)`: group the invoices, sort, limit, then
/// `$lookup` the names. `n` = 0 gives an empty list.
pub async fn top_customers(db: &Database, n: u32) -> Result<Vec<(String, Total)>> {
    // MongoDB refuses `$limit: 0`.
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = run(
        db,
        vec![
            doc! { "$group": { "_id": "$customer_id", "revenue": { "$sum": "$total_amount" } } },
            doc! { "$sort": { "revenue": -1, "_id": 1 } },
            doc! { "$limit": i64::from(n) },
            doc! { "$lookup": { "from": "customers", "localField": "_id", "foreignField": "_id", "as": "customer" } },
            doc! { "$unwind": "$customer" },
            doc! { "$project": { "name": "$customer.name", "revenue": 1 } },
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.get_str("name").unwrap_or_default().to_owned(),
                total(row, "revenue")?,
            ))
        })
        .collect()
}

/// The `n` best-selling products by quantity over all invoices, as
/// `(description, quantity)`, most sold first (ties by description):
/// `$unwind` the line items, then group them. `n` = 0 gives an empty list.
pub async fn best_sellers(db: &Database, n: u32) -> Result<Vec<(String, i64)>> {
    // MongoDB refuses `$limit: 0`.
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = run(
        db,
        vec![
            doc! { "$unwind": "$items" },
            doc! { "$group": { "_id": "$items.description", "sold": { "$sum": "$items.quantity" } } },
            doc! { "$sort": { "sold": -1, "_id": 1 } },
            doc! { "$limit": i64::from(n) },
        ],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let sold = match row.get("sold") {
                Some(Bson::Int32(n)) => i64::from(*n),
                Some(Bson::Int64(n)) => *n,
                _ => 0,
            };
            (row.get_str("_id").unwrap_or_default().to_owned(), sold)
        })
        .collect())
}
