//! Revenue per calendar month (UTC) over a range of invoice dates.

use bson::{DateTime, Document, doc};
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::Total;

/// Invoice dates from `from` (included) to `to` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: DateTime,
    to: DateTime,
}

impl DateRange {
    /// A range that ends after it starts.
    pub fn new(from: DateTime, to: DateTime) -> Result<DateRange, AnalysisError> {
        if from >= to {
            return Err(AnalysisError::invalid(
                "to",
                format!(
                    "the range must end after it starts, but it runs from {} to {}",
                    show(from),
                    show(to)
                ),
            ));
        }
        Ok(DateRange { from, to })
    }

    /// A range from two RFC 3339 dates or date-times: `"2025-01-01"` or
    /// `"2025-01-01T00:00:00Z"`.
    pub fn parse(from: &str, to: &str) -> Result<DateRange, AnalysisError> {
        DateRange::new(parse_date("from", from)?, parse_date("to", to)?)
    }

    /// The first instant included.
    pub fn from(self) -> DateTime {
        self.from
    }

    /// The first instant no longer included.
    pub fn to(self) -> DateTime {
        self.to
    }
}

/// `text` as a date: a plain `YYYY-MM-DD` means midnight UTC.
pub(crate) fn parse_date(parameter: &'static str, text: &str) -> Result<DateTime, AnalysisError> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    DateTime::parse_rfc3339_str(&full).map_err(|_| {
        AnalysisError::invalid(
            parameter,
            format!("{text:?} is not a date such as \"2025-01-31\" or \"2025-01-31T12:00:00Z\""),
        )
    })
}

fn show(date: DateTime) -> String {
    date.try_to_rfc3339_string()
        .unwrap_or_else(|_| date.timestamp_millis().to_string())
}

/// One month's revenue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthRevenue {
    /// The month, `YYYY-MM`.
    #[serde(rename = "_id")]
    pub month: String,
    /// The sum of the month's invoice totals.
    pub revenue: Total,
    /// How many invoices were dated in the month.
    pub invoices: u64,
}

/// The pipeline: invoices dated in `range`, grouped by the month of
/// `invoice_date`, in calendar order.
pub fn by_month_pipeline(range: DateRange) -> Vec<Document> {
    vec![
        doc! { "$match": { "invoice_date": { "$gte": range.from, "$lt": range.to } } },
        doc! {
            "$group": {
                "_id": { "$dateToString": { "format": "%Y-%m", "date": "$invoice_date" } },
                "revenue": { "$sum": "$total_amount" },
                "invoices": { "$sum": 1 },
            }
        },
        doc! { "$sort": { "_id": 1 } },
    ]
}

/// Revenue per month in `range`; months without invoices have no row.
pub async fn by_month(
    database: &Database,
    range: DateRange,
) -> Result<Vec<MonthRevenue>, AnalysisError> {
    run_on_invoices(database, "monthly revenue", by_month_pipeline(range)).await
}
