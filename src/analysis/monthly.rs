//! Revenue per calendar month (UTC) over a range of invoice dates.

use bson::{DateTime, Document, doc};
use mongodb::Database;
use serde::{Deserialize, Serialize};

use super::{AnalysisError, run_on_invoices};
use crate::billing::Total;
use crate::billing::json::rfc3339;

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
                    rfc3339(from),
                    rfc3339(to)
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

    /// The range cut at the start of every calendar month (UTC) inside it,
    /// in order; the range itself when it spans more than [`MAX_PIECES`]
    /// months or lies outside years 0-9999.
    pub fn months(self) -> Vec<DateRange> {
        let mut pieces = Vec::new();
        let mut start = self.from;
        while start < self.to {
            let Some(next) = next_month(start) else {
                return vec![self];
            };
            let end = next.min(self.to);
            pieces.push(DateRange {
                from: start,
                to: end,
            });
            if pieces.len() > MAX_PIECES {
                return vec![self];
            }
            start = end;
        }
        pieces
    }
}

/// The most pieces [`DateRange::months`] cuts a range into.
pub const MAX_PIECES: usize = 240;

/// Midnight UTC on the first day of the month after `date`'s.
fn next_month(date: DateTime) -> Option<DateTime> {
    let text = date.try_to_rfc3339_string().ok()?;
    let year: i32 = text.get(0..4)?.parse().ok()?;
    let month: u32 = text.get(5..7)?.parse().ok()?;
    let (year, month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    DateTime::parse_rfc3339_str(format!("{year:04}-{month:02}-01T00:00:00Z")).ok()
}

/// `text` as a date: a plain `YYYY-MM-DD` means midnight UTC.
pub(crate) fn parse_date(parameter: &'static str, text: &str) -> Result<DateTime, AnalysisError> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let date = DateTime::parse_rfc3339_str(&full).map_err(|_| {
        AnalysisError::invalid(
            parameter,
            format!("{text:?} is not a date such as \"2025-01-31\" or \"2025-01-31T12:00:00Z\""),
        )
    })?;
    // An offset can move a date written in year 0000 or 9999 out of the
    // years a date is written in (`0000-01-01T00:00:00+01:00`): such a date
    // cannot be written back as it was meant, so it is refused here rather
    // than stored changed.
    let written = date.try_to_rfc3339_string().ok();
    if written.and_then(|text| DateTime::parse_rfc3339_str(text).ok()) != Some(date) {
        return Err(AnalysisError::invalid(
            parameter,
            format!("{text:?} falls outside the years 0000 to 9999 in UTC"),
        ));
    }
    Ok(date)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(pieces: &[DateRange]) -> Vec<String> {
        pieces
            .iter()
            .map(|piece| format!("{} {}", rfc3339(piece.from), rfc3339(piece.to)))
            .collect()
    }

    #[test]
    fn a_range_is_cut_at_month_starts() {
        let range = DateRange::parse("2024-11-15", "2025-02-01T12:00:00Z").unwrap();
        assert_eq!(
            shown(&range.months()),
            [
                "2024-11-15T00:00:00Z 2024-12-01T00:00:00Z",
                "2024-12-01T00:00:00Z 2025-01-01T00:00:00Z",
                "2025-01-01T00:00:00Z 2025-02-01T00:00:00Z",
                "2025-02-01T00:00:00Z 2025-02-01T12:00:00Z",
            ]
        );
        let day = DateRange::parse("2025-03-03", "2025-03-04").unwrap();
        assert_eq!(day.months(), [day]);
        let centuries = DateRange::parse("1900-01-01", "2100-01-01").unwrap();
        assert_eq!(centuries.months(), [centuries]);
    }
}
