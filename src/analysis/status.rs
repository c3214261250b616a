//! How many invoices are in each status, and what they add up to.

use bson::{Document, doc};
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::Total;

/// One status's share of the invoices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCount {
    /// `pending`, `paid` or `overdue`.
    #[serde(rename = "_id")]
    pub status: String,
    /// How many invoices have it.
    pub invoices: u64,
    /// What they add up to.
    pub amount: Total,
}

/// The pipeline: one group per status, in alphabetical order.
pub fn status_summary_pipeline() -> Vec<Document> {
    vec![
        doc! {
            "$group": {
                "_id": "$status",
                "invoices": { "$sum": 1 },
                "amount": { "$sum": "$total_amount" },
            }
        },
        doc! { "$sort": { "_id": 1 } },
    ]
}

/// Invoices per status; a status no invoice has is left out.
pub async fn status_summary(database: &Database) -> Result<Vec<StatusCount>, AnalysisError> {
    run_on_invoices(database, "status summary", status_summary_pipeline()).await
}
