//! The customers with the most revenue, with their names: `$group` on the
//! invoices, then `$lookup` into the customers.

use bson::oid::ObjectId;
use bson::{Document, doc};
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::Total;
use crate::billing::collections::CUSTOMERS;

/// The most customers one report lists.
pub const MAX_TOP: u32 = 1_000;

/// A customer and their revenue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopCustomer {
    /// The customer.
    pub customer_id: ObjectId,
    /// Their name; `None` if the customer document is gone.
    pub name: Option<String>,
    /// Their email; `None` if the customer document is gone.
    pub email: Option<String>,
    /// The sum of their invoices' totals.
    pub revenue: Total,
    /// How many invoices were summed.
    pub invoices: u64,
}

/// Checks `n`: from 1 to [`MAX_TOP`].
pub fn check_count(n: u32) -> Result<u32, AnalysisError> {
    if n == 0 || n > MAX_TOP {
        return Err(AnalysisError::invalid(
            "n",
            format!("{n} customers cannot be listed; ask for 1 to {MAX_TOP}"),
        ));
    }
    Ok(n)
}

/// The pipeline: revenue per customer, best `n`, then each one's name and
/// email from the customers collection. The `$unwind` takes the one joined
/// customer out of the array `$lookup` makes (and keeps the row if there is
/// none); reading `"$customer.name"` through the array instead would not
/// work on the embedded server.
pub fn top_customers_pipeline(n: u32) -> Vec<Document> {
    vec![
        doc! {
            "$group": {
                "_id": "$customer_id",
                "revenue": { "$sum": "$total_amount" },
                "invoices": { "$sum": 1 },
            }
        },
        doc! { "$sort": { "revenue": -1, "_id": 1 } },
        doc! { "$limit": i64::from(n) },
        doc! {
            "$lookup": {
                "from": CUSTOMERS,
                "localField": "_id",
                "foreignField": "_id",
                "as": "customer",
            }
        },
        doc! { "$unwind": { "path": "$customer", "preserveNullAndEmptyArrays": true } },
        doc! {
            "$project": {
                "_id": 0,
                "customer_id": "$_id",
                "name": "$customer.name",
                "email": "$customer.email",
                "revenue": 1,
                "invoices": 1,
            }
        },
    ]
}

/// The `n` customers with the most revenue, best first.
pub async fn top_customers(database: &Database, n: u32) -> Result<Vec<TopCustomer>, AnalysisError> {
    let n = check_count(n)?;
    run_on_invoices(database, "top customers", top_customers_pipeline(n)).await
}
