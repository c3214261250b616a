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

use tokio::sync::mpsc;

use super::queue::Progress;
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
            other => Err(unknown_kind(other)),
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

/// Parameters written as `name=value` words (as `lab jobs submit` takes
/// them) as a JSON object: a value that reads as JSON (`5`, `true`) is
/// taken as such, anything else as a string (`2025-01-01`).
pub fn params_from_pairs(pairs: &[String]) -> Result<Value, String> {
    let mut params = serde_json::Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not name=value, such as n=5"));
        };
        if name.is_empty() {
            return Err(format!("{pair:?} has no name before ="));
        }
        let value = match serde_json::from_str::<Value>(value) {
            Ok(number @ Value::Number(_)) => number,
            Ok(boolean @ Value::Bool(_)) => boolean,
            _ => Value::String(value.to_owned()),
        };
        if params.insert(name.to_owned(), value).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    Ok(Value::Object(params))
}

fn unknown_kind(kind: &str) -> AnalysisError {
    AnalysisError::InvalidParameter {
        parameter: "kind",
        message: format!("{kind:?} is not one of {}", KINDS.join(", ")),
    }
}

/// Jobs that exercise the job system itself rather than the data: a job
/// that takes a while (to watch progress, or to kill its worker during),
/// one that panics, one that takes its whole worker process down. Refused
/// unless drills are turned on (`LAB_JOB_DRILLS=1`, or
/// [`WorkerOptions::drills`](super::worker::WorkerOptions::drills)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drill {
    /// Does nothing: what the job system costs by itself (`lab bench jobs`).
    Noop,
    /// Sleeps `ms` milliseconds in ten steps, reporting each.
    Sleep {
        /// How long.
        ms: u64,
    },
    /// Panics.
    Panic,
    /// Aborts the worker process.
    Crash,
}

/// The drill kinds.
pub const DRILLS: [&str; 4] = ["noop", "sleep", "panic", "crash"];

/// The longest `sleep` drill.
pub const MAX_SLEEP_MS: u64 = 600_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    ms: u64,
}

/// Anything a job can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// One of the analyses.
    Analysis(Analysis),
    /// A drill.
    Drill(Drill),
}

impl Job {
    /// The job `kind` with `params`, checked; drills only if `drills`.
    pub fn parse(kind: &str, params: &Value, drills: bool) -> Result<Job, AnalysisError> {
        if !DRILLS.contains(&kind) {
            return Analysis::parse(kind, params).map(Job::Analysis);
        }
        if !drills {
            return Err(AnalysisError::InvalidParameter {
                parameter: "kind",
                message: format!(
                    "{kind:?} is a drill, refused unless drills are turned on (LAB_JOB_DRILLS=1); \
                     the analyses are {}",
                    KINDS.join(", ")
                ),
            });
        }
        Ok(Job::Drill(match kind {
            "sleep" => {
                let SleepParams { ms } = read(kind, params)?;
                if ms > MAX_SLEEP_MS {
                    return Err(AnalysisError::invalid(
                        "ms",
                        format!("{ms} is longer than the longest sleep, {MAX_SLEEP_MS}"),
                    ));
                }
                Drill::Sleep { ms }
            }
            "noop" => {
                let _: NoParams = read(kind, params)?;
                Drill::Noop
            }
            "panic" => {
                let _: NoParams = read(kind, params)?;
                Drill::Panic
            }
            _ => {
                let _: NoParams = read(kind, params)?;
                Drill::Crash
            }
        }))
    }

    /// Runs the job, sending progress to `progress`.
    pub async fn run(
        &self,
        database: &Database,
        progress: &ProgressSender,
    ) -> Result<Value, AnalysisError> {
        match self {
            Job::Analysis(analysis) => analysis.run_reporting(database, Some(progress)).await,
            Job::Drill(Drill::Sleep { ms }) => {
                for done in 1..=10 {
                    tokio::time::sleep(std::time::Duration::from_millis(ms / 10)).await;
                    let _ = progress.send(Progress {
                        done,
                        total: 10,
                        note: "tenths".to_owned(),
                    });
                }
                Ok(serde_json::json!({ "slept_ms": ms }))
            }
            Job::Drill(Drill::Noop) => Ok(Value::Object(Default::default())),
            Job::Drill(Drill::Panic) => panic!("the panic drill"),
            Job::Drill(Drill::Crash) => std::process::abort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_value_words_become_parameters() {
        let words = |words: &[&str]| {
            params_from_pairs(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            words(&["from=2025-01-01", "n=5", "all=true"]),
            Ok(json!({"from": "2025-01-01", "n": 5, "all": true}))
        );
        assert_eq!(words(&[]), Ok(json!({})));
        assert!(words(&["n"]).unwrap_err().contains("name=value"));
        assert!(words(&["=5"]).unwrap_err().contains("no name"));
        assert!(words(&["n=1", "n=2"]).unwrap_err().contains("twice"));
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
        let drill = |kind: &str, params: Value, drills: bool| {
            Job::parse(kind, &params, drills).map_err(|error| error.to_string())
        };
        assert_eq!(
            drill("sleep", json!({"ms": 50}), true),
            Ok(Job::Drill(Drill::Sleep { ms: 50 }))
        );
        assert!(
            drill("sleep", json!({"ms": 50}), false)
                .unwrap_err()
                .contains("LAB_JOB_DRILLS=1")
        );
        assert!(
            drill("sleep", json!({"ms": 10_000_000}), true)
                .unwrap_err()
                .starts_with("ms:")
        );
        assert_eq!(
            drill("crash", json!({}), true),
            Ok(Job::Drill(Drill::Crash))
        );
        assert_eq!(
            drill("top_customers", json!({"n": 2}), false),
            Ok(Job::Analysis(Analysis::TopCustomers { n: 2 }))
        );
    }
}
