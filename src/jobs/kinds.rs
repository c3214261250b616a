//! The analyses a job can ask for, with their parameters checked before
//! anything runs: a job with bad parameters fails at once, without retries.
//!
//! | kind | params |
//! |---|---|
//! | `revenue_by_customer` | `{"customer_id": "<hex>"}` or `{}` for everyone (the course notes' pipeline) |
//! | `revenue_by_month` | `{"from": "2025-01-01", "to": "2026-01-01"}` |
//! | `top_customers` | `{"n": 10}` |
//! | `overdue_invoices` | `{"as_of": "2025-12-01", "limit": 100}` |
//! | `invoice_status_summary` | `{}` |

use bson::DateTime;
use bson::oid::ObjectId;
use mongodb::Database;
use serde::Deserialize;
use serde_json::Value;

use crate::analysis::monthly::{DateRange, parse_date};
use crate::analysis::{AnalysisError, monthly, overdue, revenue, status, top};

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
struct NoParams {}

fn read<T: serde::de::DeserializeOwned>(kind: &str, params: &Value) -> Result<T, AnalysisError> {
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
            other => Err(AnalysisError::InvalidParameter {
                parameter: "kind",
                message: format!("{other:?} is not one of {}", KINDS.join(", ")),
            }),
        }
    }

    /// Runs the analysis's pipeline and returns its result as JSON.
    pub async fn run(&self, database: &Database) -> Result<Value, AnalysisError> {
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
            Analysis::RevenueByMonth { range } => json(serde_json::to_value(
                monthly::by_month(database, *range).await?,
            )),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
