//! Reports over the billing data, each one aggregation pipeline that MongoDB
//! runs next to the data: revenue per customer (the course notes' pipeline),
//! revenue per month, the top customers with their names, the overdue
//! invoices as of a date, and how many invoices are in each status.
//!
//! Every report has two halves: a function that only *builds* its pipeline
//! (so a lesson can print it and a test can read it) and one that runs it and
//! returns typed rows. Parameters are checked before anything reaches the
//! server, with messages that say what would have been accepted.
//!
//! The pipelines are portable: they avoid what the embedded server does not
//! support (a field path through an array of documents such as
//! `"$items.total"`, and `$subtract` between two dates), using `$unwind`
//! and `$dateDiff` instead, which behave the same on `mongod`.
//!
//! ```no_run
//! # async fn example(db: &lab::mongodb::Database) -> Result<(), lab::analysis::AnalysisError> {
//! for row in lab::analysis::revenue::by_customer(db, None).await?.iter().take(3) {
//!     println!("{} {}", row.customer_id, row.total_revenue);
//! }
//! # Ok(()) }
//! ```

pub mod monthly;
pub mod overdue;
pub mod plan;
pub mod revenue;
pub mod status;
pub mod top;

use bson::Document;
use futures_util::TryStreamExt;
use mongodb::Database;
use serde::de::DeserializeOwned;

use crate::billing::collections::INVOICES;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A parameter is outside what the report accepts; nothing was run.
    #[error("{parameter}: {message}")]
    InvalidParameter {
        /// The parameter, as named in the API and the job's `params`.
        parameter: &'static str,
        /// What was wrong and what would be accepted.
        message: String,
    },
    /// The database refused or could not run the pipeline, or returned rows
    /// of an unexpected shape.
    #[error("the {report} report failed: {source}")]
    Database {
        /// The report.
        report: &'static str,
        /// The driver's error.
        source: mongodb::error::Error,
    },
}

impl AnalysisError {
    pub(crate) fn invalid(parameter: &'static str, message: impl Into<String>) -> AnalysisError {
        AnalysisError::InvalidParameter {
            parameter,
            message: message.into(),
        }
    }
}

/// Runs `pipeline` on the invoices and reads every row as a `T`.
async fn run_on_invoices<T>(
    database: &Database,
    report: &'static str,
    pipeline: Vec<Document>,
) -> Result<Vec<T>, AnalysisError>
where
    T: DeserializeOwned + Send + Sync,
{
    let failed = |source| AnalysisError::Database { report, source };
    database
        .collection::<Document>(INVOICES)
        .aggregate(pipeline)
        .with_type::<T>()
        .await
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)
}
