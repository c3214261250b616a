//! `lab bench revenue`: revenue per customer computed by an aggregation
//! pipeline in the database, next to the same sum computed in Rust from the
//! invoices the driver streams over, on a data set of the size asked for.

use std::time::{Duration, Instant};

use crate::control::LabError;
use lab::analysis::revenue;
use lab::billing::Total;
use lab::config::Config;
use lab::dataset::{self, Existing, SeedSpec};

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct RevenueBenchReport {
    /// Which server was measured.
    pub server: String,
    /// The data set.
    pub spec: SeedSpec,
    /// How long loading it took.
    pub seed: Duration,
    /// Each round of the pipeline in the database.
    pub database: Vec<Duration>,
    /// Each round of the sum in Rust.
    pub rust: Vec<Duration>,
    /// Customers with revenue (rows of either answer).
    pub customers: usize,
    /// All revenue, the same in both answers.
    pub total: Total,
}

/// The middle value of `times` (the upper middle for an even count).
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

impl RevenueBenchReport {
    /// How many times longer the Rust sum took than the pipeline (medians).
    pub fn ratio(&self) -> f64 {
        median(&self.rust).as_secs_f64() / median(&self.database).as_secs_f64()
    }
}

/// Loads `spec` into a scratch database, then times both ways `rounds`
/// times, alternating, and checks that they agree row for row.
pub async fn run(
    config: &Config,
    spec: SeedSpec,
    rounds: u32,
    say: &dyn Fn(&str),
) -> Result<RevenueBenchReport, LabError> {
    let scratch = super::ScratchServer::start(config, say).await?;
    let client = scratch.client().await?;
    let stamp = bson::oid::ObjectId::new().to_hex();
    let database = client.database(&format!("bench_revenue_{}", &stamp[16..]));

    say(&format!(
        "loading {} customers and {} invoices",
        spec.customers, spec.invoices
    ));
    let started = Instant::now();
    let outcome = async {
        dataset::seed(&database, spec, Existing::Refuse, &mut |_| {}).await?;
        let seed = started.elapsed();
        let (mut in_database, mut in_rust) = (Vec::new(), Vec::new());
        let mut answers = None;
        for round in 1..=rounds.max(1) {
            say(&format!("round {round} of {}", rounds.max(1)));
            let started = Instant::now();
            let by_pipeline = revenue::by_customer(&database, None).await?;
            in_database.push(started.elapsed());
            let started = Instant::now();
            let by_rust = revenue::by_customer_in_rust(&database, None).await?;
            in_rust.push(started.elapsed());
            if by_pipeline != by_rust {
                return Err(LabError::Disagreement {
                    what: "revenue per customer differs between the pipeline and the Rust sum"
                        .to_owned(),
                });
            }
            answers = Some(by_pipeline);
        }
        let rows = answers.unwrap_or_default();
        Ok(RevenueBenchReport {
            server: scratch.label.clone(),
            spec,
            seed,
            database: in_database,
            rust: in_rust,
            customers: rows.len(),
            total: rows
                .iter()
                .map(|row| row.total_revenue)
                .fold(Total::ZERO, |a, b| a + b),
        })
    }
    .await;
    let _ = database.drop().await;
    outcome
}
