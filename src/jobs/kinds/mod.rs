//! The jobs a queue can hold, with their parameters checked before anything
//! runs: a job with bad parameters fails at once, without retries.
//!
//! | kind | params |
//! |---|---|
//! | `revenue_by_customer` | `{"customer_id": "<hex>"}` or `{}` for everyone (the course notes' pipeline) |
//! | `revenue_by_month` | `{"from": "2025-01-01", "to": "2026-01-01"}` |
//! | `top_customers` | `{"n": 10}` |
//! | `overdue_invoices` | `{"as_of": "2025-12-01", "limit": 100}` |
//! | `invoice_status_summary` | `{}` |
//!
//! A request is parsed once, at the edge (the API, `lab jobs submit`), into
//! a [`Job`]; the queue stores that job's canonical form ([`Job::kind`],
//! [`Job::params`]), and the worker reads it back with the same
//! [`Job::parse`] ([`Claim::job`](super::Claim::job)).

mod analysis;
mod job;
mod pairs;

pub use analysis::{Analysis, KINDS, ProgressSender};
pub use job::{DRILLS, Drill, Job, MAX_SLEEP_MS};
pub use pairs::{PairsError, params_from_pairs};
