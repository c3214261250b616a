//! The analyses: what each kind asks for, checked, and how it runs.

use bson::DateTime;
use bson::oid::ObjectId;
use mongodb::Database;
use serde::Deserialize;
use serde_json::{Value, json};

use tokio::sync::mpsc;

use crate::analysis::monthly::{DateRange, parse_date};
use crate::analysis::{AnalysisError, monthly, overdue, revenue, status, top};
use crate::jobs::queue::Progress;

/// A checked analysis request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analysis {
    /// Revenue per customer, of one customer or of all.
    RevenueByCustomer {
        /// Only this customer, when given.
        customer: Option<ObjectId>,
    },
    /// Revenue per month over a range of invoice dates.
    RevenueByMonth {
        /// The range.
        range: DateRange,
    },
    /// The `n` customers with the most revenue, with their names.
    TopCustomers {
        /// How many.
        n: u32,
    },
    /// Unpaid invoices past due as of a date.
    OverdueInvoices {
        /// The date.
        as_of: DateTime,
        /// How many to list.
        limit: u32,
    },
    /// Invoices per status.
    InvoiceStatusSummary,
}

/// Where a run sends its progress.
pub type ProgressSender = mpsc::UnboundedSender<Progress>;

/// Every kind, for error messages and the job API's description.
pub const KINDS: [&str; 5] = [
    "revenue_by_customer",
    "revenue_by_month",
    "top_customers",
    "overdue_invoices",
    "invoice_status_summary",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevenueParams {
    customer_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthParams {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopParams {
    n: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverdueParams {
    as_of: String,
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// `params` read as `T`, refusing unknown fields, with `kind` in the message.
pub(super) fn read<T: serde::de::DeserializeOwned>(
    kind: &str,
    params: &Value,
) -> Result<T, AnalysisError> {
    serde_json::from_value(params.clone()).map_err(|error| AnalysisError::InvalidParameter {
        parameter: "params",
        message: format!("{kind}: {error}"),
    })
}

impl Analysis {
    /// The analysis `kind` with `params`, checked.
    pub fn parse(kind: &str, params: &Value) -> Result<Analysis, AnalysisError> {
        match kind {
            "revenue_by_customer" => {
                let params: RevenueParams = read(kind, params)?;
                let customer = params
                    .customer_id
                    .map(|hex| {
                        ObjectId::parse_str(&hex).map_err(|_| AnalysisError::InvalidParameter {
                            parameter: "customer_id",
                            message: format!("{hex:?} is not an id of 24 hexadecimal digits"),
                        })
                    })
                    .transpose()?;
                Ok(Analysis::RevenueByCustomer { customer })
            }
            "revenue_by_month" => {
                let params: MonthParams = read(kind, params)?;
                Ok(Analysis::RevenueByMonth {
                    range: DateRange::parse(&params.from, &params.to)?,
                })
            }
            "top_customers" => {
                let params: TopParams = read(kind, params)?;
                Ok(Analysis::TopCustomers {
                    n: top::check_count(params.n)?,
                })
            }
            "overdue_invoices" => {
                let params: OverdueParams = read(kind, params)?;
                Ok(Analysis::OverdueInvoices {
                    as_of: parse_date("as_of", &params.as_of)?,
                    limit: overdue::check_limit(params.limit.unwrap_or(100))?,
                })
            }
            "invoice_status_summary" => {
                let _: NoParams = read(kind, params)?;
                Ok(Analysis::InvoiceStatusSummary)
            }
            other => Err(unknown_kind(other)),
        }
    }

    /// The kind's name, as [`Analysis::parse`] reads it.
    pub fn kind(&self) -> &'static str {
        match self {
            Analysis::RevenueByCustomer { .. } => "revenue_by_customer",
            Analysis::RevenueByMonth { .. } => "revenue_by_month",
            Analysis::TopCustomers { .. } => "top_customers",
            Analysis::OverdueInvoices { .. } => "overdue_invoices",
            Analysis::InvoiceStatusSummary => "invoice_status_summary",
        }
    }

    /// The parameters in canonical form, defaults written out: what the
    /// queue stores, and what [`Analysis::parse`] reads back as this same
    /// analysis.
    pub fn params(&self) -> Value {
        match self {
            Analysis::RevenueByCustomer { customer: None } => json!({}),
            Analysis::RevenueByCustomer {
                customer: Some(customer),
            } => json!({ "customer_id": customer.to_hex() }),
            Analysis::RevenueByMonth { range } => {
                json!({ "from": date_param(range.from()), "to": date_param(range.to()) })
            }
            Analysis::TopCustomers { n } => json!({ "n": n }),
            Analysis::OverdueInvoices { as_of, limit } => {
                json!({ "as_of": date_param(*as_of), "limit": limit })
            }
            Analysis::InvoiceStatusSummary => json!({}),
        }
    }

    /// Runs the analysis's pipeline and returns its result as JSON.
    pub async fn run(&self, database: &Database) -> Result<Value, AnalysisError> {
        self.run_reporting(database, None).await
    }

    /// [`Analysis::run`], sending progress to `progress` where it means
    /// something: revenue by month runs month by month (each an indexed
    /// range of invoice dates) and reports the months done.
    pub async fn run_reporting(
        &self,
        database: &Database,
        progress: Option<&ProgressSender>,
    ) -> Result<Value, AnalysisError> {
        let json = |value: Result<Value, serde_json::Error>| {
            value.map_err(|error| AnalysisError::InvalidParameter {
                parameter: "result",
                message: error.to_string(),
            })
        };
        match self {
            Analysis::RevenueByCustomer { customer } => {
                let rows = revenue::by_customer(database, *customer).await?;
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|row| {
                        serde_json::json!({
                            "customer_id": row.customer_id.to_hex(),
                            "total_revenue": row.total_revenue,
                            "invoices": row.invoices,
                        })
                    })
                    .collect();
                Ok(Value::Array(rows))
            }
            Analysis::RevenueByMonth { range } => {
                let months = range.months();
                let report = |done: usize| {
                    if let Some(progress) = progress {
                        // The receiver is gone only when the run was stopped.
                        let _ = progress.send(Progress {
                            done: done as u64,
                            total: months.len() as u64,
                            note: "months".to_owned(),
                        });
                    }
                };
                report(0);
                let mut rows = Vec::new();
                for (done, month) in months.iter().enumerate() {
                    rows.extend(monthly::by_month(database, *month).await?);
                    report(done + 1);
                }
                json(serde_json::to_value(rows))
            }
            Analysis::TopCustomers { n } => {
                let rows = top::top_customers(database, *n).await?;
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|row| {
                        serde_json::json!({
                            "customer_id": row.customer_id.to_hex(),
                            "name": row.name,
                            "email": row.email,
                            "revenue": row.revenue,
                            "invoices": row.invoices,
                        })
                    })
                    .collect();
                Ok(Value::Array(rows))
            }
            Analysis::OverdueInvoices { as_of, limit } => {
                let report = overdue::overdue(database, *as_of, *limit).await?;
                let invoices: Vec<Value> = report
                    .invoices
                    .iter()
                    .map(|row| {
                        serde_json::json!({
                            "invoice_id": row.invoice_id.to_hex(),
                            "customer_id": row.customer_id.to_hex(),
                            "customer_name": row.customer_name,
                            "due_date": crate::billing::json::rfc3339(row.due_date),
                            "days_overdue": row.days_overdue,
                            "total_amount": row.total_amount.to_string(),
                        })
                    })
                    .collect();
                Ok(serde_json::json!({
                    "count": report.count,
                    "total": report.total,
                    "invoices": invoices,
                }))
            }
            Analysis::InvoiceStatusSummary => json(serde_json::to_value(
                status::status_summary(database).await?,
            )),
        }
    }
}

/// A date as a parameter: `YYYY-MM-DD` when it is midnight UTC (how dates
/// are usually given), the full RFC 3339 form otherwise.
fn date_param(date: DateTime) -> String {
    let full = date
        .try_to_rfc3339_string()
        .unwrap_or_else(|_| date.timestamp_millis().to_string());
    match full.strip_suffix("T00:00:00Z") {
        Some(day) => day.to_owned(),
        None => full,
    }
}

fn unknown_kind(kind: &str) -> AnalysisError {
    AnalysisError::InvalidParameter {
        parameter: "kind",
        message: format!("{kind:?} is not one of {}", KINDS.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_an_offset_moves_out_of_the_written_years_are_refused() {
        for (from, to) in [
            ("0000-01-01T00:00:00+23:59", "2025-01-01"),
            ("2025-01-01", "9999-12-31T23:59:59-23:59"),
        ] {
            let refused = Analysis::parse("revenue_by_month", &json!({"from": from, "to": to}));
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|error| error.to_string().contains("outside the years")),
                "{from} .. {to}: {refused:?}"
            );
        }
        let kept = Analysis::parse(
            "revenue_by_month",
            &json!({"from": "0000-01-01", "to": "9999-12-31T23:59:59Z"}),
        )
        .unwrap();
        assert_eq!(
            kept.params(),
            json!({"from": "0000-01-01", "to": "9999-12-31T23:59:59Z"})
        );
    }

    #[test]
    fn parameters_are_checked_with_messages_that_name_them() {
        assert_eq!(
            Analysis::parse("top_customers", &json!({"n": 5})).unwrap(),
            Analysis::TopCustomers { n: 5 }
        );
        assert_eq!(
            Analysis::parse("revenue_by_customer", &json!({})).unwrap(),
            Analysis::RevenueByCustomer { customer: None }
        );
        let refused =
            |kind: &str, params: Value| Analysis::parse(kind, &params).unwrap_err().to_string();
        assert_eq!(
            refused("top_customers", json!({"n": 0})),
            "n: 0 customers cannot be listed; ask for 1 to 1000"
        );
        assert!(
            refused("top_customers", json!({"n": "ten"}))
                .starts_with("params: top_customers: invalid type")
        );
        assert!(
            refused("top_customers", json!({"n": 3, "$where": 1}))
                .contains("unknown field `$where`")
        );
        assert!(
            refused("revenue_by_customer", json!({"customer_id": "x"})).starts_with("customer_id:")
        );
        assert!(
            refused(
                "revenue_by_month",
                json!({"from": "2025-06-01", "to": "2025-01-01"})
            )
            .starts_with("to:")
        );
        assert!(refused("overdue_invoices", json!({"as_of": "soon"})).starts_with("as_of:"));
        assert!(refused("invoice_status_summary", json!({"x": 1})).contains("unknown field"));
        assert!(
            refused("mine_bitcoin", json!({})).starts_with("kind: \"mine_bitcoin\" is not one of")
        );
    }

    #[test]
    fn the_canonical_form_reads_back_as_the_same_analysis() {
        let requests = [
            ("revenue_by_customer", json!({})),
            (
                "revenue_by_customer",
                json!({"customer_id": "65a1b2c3d4e5f60718293a4b"}),
            ),
            (
                "revenue_by_month",
                json!({"from": "2025-01-01", "to": "2025-03-01"}),
            ),
            (
                "revenue_by_month",
                json!({"from": "2025-01-01T12:30:00Z", "to": "2025-03-01"}),
            ),
            ("top_customers", json!({"n": 7})),
            ("overdue_invoices", json!({"as_of": "2025-12-01"})),
            (
                "overdue_invoices",
                json!({"as_of": "2025-12-01", "limit": 5}),
            ),
            ("invoice_status_summary", json!({})),
        ];
        for (kind, params) in requests {
            let analysis = Analysis::parse(kind, &params).unwrap();
            assert_eq!(analysis.kind(), kind);
            assert_eq!(
                Analysis::parse(analysis.kind(), &analysis.params()).unwrap(),
                analysis,
                "{kind} {params}"
            );
        }
        assert_eq!(
            Analysis::parse("overdue_invoices", &json!({"as_of": "2025-12-01"}))
                .unwrap()
                .params(),
            json!({"as_of": "2025-12-01", "limit": 100}),
            "defaults are written out"
        );
    }
}
