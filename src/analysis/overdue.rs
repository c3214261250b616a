//! The invoices still unpaid after their due date, as of a given date, the
//! longest overdue first, with each customer's name and a summary.

use bson::oid::ObjectId;
use bson::{DateTime, Document, doc};
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::collections::CUSTOMERS;
use crate::billing::{Money, Total};

/// The most invoices one report lists (the summary counts them all).
pub const MAX_LISTED: u32 = 10_000;

/// One unpaid invoice past its due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdueInvoice {
    /// The invoice.
    pub invoice_id: ObjectId,
    /// Its customer.
    pub customer_id: ObjectId,
    /// The customer's name; `None` if the customer document is gone.
    pub customer_name: Option<String>,
    /// When it was due.
    pub due_date: DateTime,
    /// Whole days from the due date to the report's date.
    pub days_overdue: i64,
    /// What is owed.
    pub total_amount: Money,
}

/// The report: every overdue invoice counted and summed, the first ones listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdueReport {
    /// How many invoices are overdue.
    pub count: u64,
    /// What they add up to.
    pub total: Total,
    /// The longest overdue first, at most the number asked for.
    pub invoices: Vec<OverdueInvoice>,
}

/// Checks the number of invoices to list: from 1 to [`MAX_LISTED`].
pub fn check_limit(limit: u32) -> Result<u32, AnalysisError> {
    if limit == 0 || limit > MAX_LISTED {
        return Err(AnalysisError::invalid(
            "limit",
            format!("{limit} invoices cannot be listed; ask for 1 to {MAX_LISTED}"),
        ));
    }
    Ok(limit)
}

/// The pipeline. Overdue means not paid and due before `as_of`, whatever
/// the stored status says (a `pending` invoice past its date is overdue
/// too). `$facet` runs the summary and the listing over the same matches.
/// Days are counted with `$dateDiff`; subtracting two dates works on
/// `mongod` but not on the embedded server.
pub fn overdue_pipeline(as_of: DateTime, limit: u32) -> Vec<Document> {
    vec![
        doc! { "$match": { "status": { "$ne": "paid" }, "due_date": { "$lt": as_of } } },
        doc! {
            "$facet": {
                "summary": [
                    { "$group": { "_id": null, "count": { "$sum": 1 }, "total": { "$sum": "$total_amount" } } },
                ],
                "invoices": [
                    { "$addFields": {
                        "days_overdue": { "$dateDiff": { "startDate": "$due_date", "endDate": as_of, "unit": "day" } },
                    } },
                    { "$sort": { "days_overdue": -1, "_id": 1 } },
                    { "$limit": i64::from(limit) },
                    { "$lookup": { "from": CUSTOMERS, "localField": "customer_id", "foreignField": "_id", "as": "customer" } },
                    { "$unwind": { "path": "$customer", "preserveNullAndEmptyArrays": true } },
                    { "$project": {
                        "_id": 0,
                        "invoice_id": "$_id",
                        "customer_id": 1,
                        "customer_name": "$customer.name",
                        "due_date": 1,
                        "days_overdue": 1,
                        "total_amount": 1,
                    } },
                ],
            }
        },
    ]
}

/// The shape `$facet` returns: one document of two arrays.
#[derive(Deserialize)]
struct Faceted {
    summary: Vec<Summary>,
    invoices: Vec<OverdueInvoice>,
}

#[derive(Deserialize)]
struct Summary {
    count: u64,
    total: Total,
}

/// The overdue invoices as of `as_of`, the `limit` longest overdue listed.
pub async fn overdue(
    database: &Database,
    as_of: DateTime,
    limit: u32,
) -> Result<OverdueReport, AnalysisError> {
    let limit = check_limit(limit)?;
    let mut rows: Vec<Faceted> =
        run_on_invoices(database, "overdue", overdue_pipeline(as_of, limit)).await?;
    let Some(faceted) = rows.pop() else {
        return Ok(OverdueReport {
            count: 0,
            total: Total::ZERO,
            invoices: Vec::new(),
        });
    };
    let (count, total) = faceted
        .summary
        .first()
        .map_or((0, Total::ZERO), |summary| (summary.count, summary.total));
    Ok(OverdueReport {
        count,
        total,
        invoices: faceted.invoices,
    })
}
