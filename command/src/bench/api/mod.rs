//! `lab bench api`: requests per second and latency of `GET /customers/{id}`
//! when the cache has the customer (hit) and when it does not (miss), next
//! to a bare Redis GET at the same concurrency in the same run.
//!
//! Everything runs on this machine: a fresh `redis-server`, the scratch
//! MongoDB of the benchmarks with 1,000 customers, and the API on a real
//! socket. Two modes:
//!
//! - [`run`], in one process: the API, and a load generator of its own
//!   (plain HTTP/1.1 keep-alive connections, one request at a time on each)
//!   and a Redis GET loop with the same client library the API uses. Hits,
//!   misses and Redis compared on equal terms, with no tool to install.
//! - [`run_external`] (`--external`): the API as users run it, a child
//!   `lab serve` on a free port, driven by `wrk` for as long as asked, and
//!   Redis measured by `redis-benchmark`: the figures an operator would
//!   get with those tools. The in-process generator shares two cores with
//!   the server it measures, so its figures are not those.

mod child;
mod customers;
mod external_run;
mod in_process;
mod load;

pub use super::Phase;
pub use external_run::{ExternalReport, run_external};
pub use in_process::{ApiBenchReport, run};
