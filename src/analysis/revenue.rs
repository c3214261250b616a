//! Revenue per customer: the course notes' `$match` + `$group` pipeline,
//! and the same sum computed in Rust from the invoices, to compare.

use std::collections::HashMap;

use bson::oid::ObjectId;
use bson::{Document, doc};
use futures_util::TryStreamExt;
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::collections::INVOICES;
use crate::billing::{Money, Total};

/// One customer's revenue: the sum of `total_amount` over their invoices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRevenue {
    /// The customer (`_id` in the pipeline's output, as `$group` names it).
    #[serde(rename = "_id")]
    pub customer_id: ObjectId,
    /// The sum of their invoices' totals, whatever the status.
    pub total_revenue: Total,
    /// How many invoices were summed.
    pub invoices: u64,
}

/// The pipeline: invoices of `customer` (or of everyone), grouped by
/// customer, the highest revenue first (ties by id, so the order is stable).
pub fn by_customer_pipeline(customer: Option<ObjectId>) -> Vec<Document> {
    let mut pipeline = Vec::with_capacity(3);
    if let Some(customer) = customer {
        pipeline.push(doc! { "$match": { "customer_id": customer } });
    }
    pipeline.push(doc! {
        "$group": {
            "_id": "$customer_id",
            "total_revenue": { "$sum": "$total_amount" },
            "invoices": { "$sum": 1 },
        }
    });
    pipeline.push(doc! { "$sort": { "total_revenue": -1, "_id": 1 } });
    pipeline
}

/// Revenue per customer, computed by the database. A customer without
/// invoices has no row.
pub async fn by_customer(
    database: &Database,
    customer: Option<ObjectId>,
) -> Result<Vec<CustomerRevenue>, AnalysisError> {
    run_on_invoices(database, "revenue", by_customer_pipeline(customer)).await
}

/// The fields the Rust version reads from each invoice.
#[derive(Deserialize)]
struct Amount {
    customer_id: ObjectId,
    total_amount: Money,
}

/// The same answer as [`by_customer`], computed in Rust: every invoice's two
/// fields travel to the client, which adds them up. This is what the
/// aggregation framework saves; `lab bench revenue` measures both.
pub async fn by_customer_in_rust(
    database: &Database,
    customer: Option<ObjectId>,
) -> Result<Vec<CustomerRevenue>, AnalysisError> {
    let failed = |source| AnalysisError::Database {
        report: "revenue (in Rust)",
        source,
    };
    let filter = customer.map_or_else(Document::new, |id| doc! { "customer_id": id });
    let mut cursor = database
        .collection::<Amount>(INVOICES)
        .find(filter)
        .projection(doc! { "_id": 0, "customer_id": 1, "total_amount": 1 })
        .batch_size(10_000)
        .await
        .map_err(failed)?;
    let mut sums: HashMap<ObjectId, (Total, u64)> = HashMap::new();
    while let Some(invoice) = cursor.try_next().await.map_err(failed)? {
        let entry = sums.entry(invoice.customer_id).or_default();
        entry.0 = entry.0 + invoice.total_amount;
        entry.1 += 1;
    }
    let mut rows: Vec<CustomerRevenue> = sums
        .into_iter()
        .map(|(customer_id, (total_revenue, invoices))| CustomerRevenue {
            customer_id,
            total_revenue,
            invoices,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.total_revenue
            .cmp(&a.total_revenue)
            .then(a.customer_id.cmp(&b.customer_id))
    });
    Ok(rows)
}
