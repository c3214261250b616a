//! Writing a generated data set into MongoDB, never half of one.
//!
//! The indexes are created first, on the empty collections, and documents
//! then go in through batched `insert_many` calls that maintain them as they
//! go. Building an index afterwards over a large collection would be a
//! single huge transaction; on the embedded server one over a million
//! invoices outgrows the storage engine's cache and never finishes.
//!
//! - **Into an empty database** (the usual case), documents go straight into
//!   `customers` and `invoices`, under an "in progress" marker. If the run
//!   fails, both collections are dropped, which is exactly the state before.
//!   If it is killed, the marker stays; the next run (or `lab up`) sees it,
//!   drops the partial data and starts again.
//! - **Replacing existing data** (`--replace`), documents go into staging
//!   collections, and only a complete data set replaces the old one, by
//!   `renameCollection`. A failed run leaves the old data untouched. (On the
//!   embedded server a rename copies the data, so this path is the slower one.)

use std::time::{Duration, Instant};

use bson::doc;
use mongodb::Database;
use mongodb::options::InsertManyOptions;
use tokio::sync::mpsc;

use super::generator::Generator;
use crate::billing::collections::{self, CUSTOMERS, INVOICES};
use crate::billing::{Customer, Invoice};

/// The most customers a data set may have.
pub const MAX_CUSTOMERS: i64 = 1_000_000;
/// The most invoices a data set may have.
pub const MAX_INVOICES: i64 = 20_000_000;
/// Documents per `insert_many` call: large enough to keep round trips rare,
/// small enough for a smooth progress bar and bounded memory.
const BATCH: usize = 5_000;
/// How many `insert_many` calls run at once.
const INSERTS_IN_FLIGHT: usize = 2;
/// Prefix of the staging collections.
const STAGING_PREFIX: &str = "seeding__";

/// How big a data set to make, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSpec {
    /// Number of customers.
    pub customers: usize,
    /// Number of invoices.
    pub invoices: usize,
    /// The seed: the same seed gives the same documents.
    pub seed: u64,
}

impl SeedSpec {
    /// Checks the sizes a person asked for.
    pub fn new(customers: i64, invoices: i64, seed: u64) -> Result<SeedSpec, SeedError> {
        let invalid = |message: String| Err(SeedError::InvalidSpec(message));
        if !(0..=MAX_CUSTOMERS).contains(&customers) {
            return invalid(format!(
                "--customers must be from 0 to {MAX_CUSTOMERS}, got {customers}"
            ));
        }
        if !(0..=MAX_INVOICES).contains(&invoices) {
            return invalid(format!(
                "--invoices must be from 0 to {MAX_INVOICES}, got {invoices}"
            ));
        }
        if customers == 0 && invoices > 0 {
            return invalid("invoices need customers: give --customers 1 or more".to_owned());
        }
        Ok(SeedSpec {
            customers: customers as usize,
            invoices: invoices as usize,
            seed,
        })
    }

    /// The data set `lab up` loads into an empty database.
    pub fn standard() -> SeedSpec {
        SeedSpec {
            customers: 1_000,
            invoices: 20_000,
            seed: super::generator::DEFAULT_SEED,
        }
    }
}

/// What to do when the billing collections already hold documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Stop with an error and leave them alone.
    Refuse,
    /// Replace them with the new data set.
    Replace,
}

/// How far seeding has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedProgress {
    /// Documents written so far, customers and invoices together.
    pub written: u64,
    /// Documents to write in all.
    pub total: u64,
}

/// What a seeding run did.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    /// Customers written.
    pub customers: u64,
    /// Invoices written.
    pub invoices: u64,
    /// How long it took, indexes included.
    pub elapsed: Duration,
}

impl SeedReport {
    /// Documents written per second.
    pub fn docs_per_second(&self) -> f64 {
        (self.customers + self.invoices) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why seeding stopped. Nothing was changed in the billing collections.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The sizes asked for are out of range.
    #[error("{0}")]
    InvalidSpec(String),
    /// The collections hold data and replacing it was not asked for.
    #[error(
        "{database}.{collection} already holds {count} documents; pass --replace to overwrite the data set, or set MONGODB_DB to use another database"
    )]
    NotEmpty {
        /// The database.
        database: String,
        /// The collection that holds data.
        collection: &'static str,
        /// How many documents it holds.
        count: u64,
    },
    /// The server refused or failed a request.
    #[error("{action} failed: {source}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        source: mongodb::error::Error,
    },
}

fn database_error(action: &'static str) -> impl FnOnce(mongodb::error::Error) -> SeedError {
    move |source| SeedError::Database { action, source }
}

/// Generates the data set `spec` describes and writes it to `database`.
pub async fn seed(
    database: &Database,
    spec: SeedSpec,
    existing: Existing,
    progress: &mut dyn FnMut(SeedProgress),
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let interrupted = marker_present(database).await?;
    if interrupted {
        // An earlier run was killed part way: what it wrote is not a data set.
        drop_all(database, &[CUSTOMERS, INVOICES]).await?;
    }
    match (first_filled(database).await?, existing) {
        (Some((collection, count)), Existing::Refuse) => {
            return Err(SeedError::NotEmpty {
                database: database.name().to_owned(),
                collection,
                count,
            });
        }
        (Some(_), Existing::Replace) => {
            drop_stale_staging(database).await?;
            let stamp = format!("{STAGING_PREFIX}{}_", bson::oid::ObjectId::new().to_hex());
            let names = [format!("{stamp}{CUSTOMERS}"), format!("{stamp}{INVOICES}")];
            let result = async {
                write(database, &names, spec, progress).await?;
                rename(database, &names[0], CUSTOMERS).await?;
                rename(database, &names[1], INVOICES).await
            }
            .await;
            if result.is_err() {
                // Best effort: the next replacing run drops anything left.
                let _ = drop_all(database, &names).await;
            }
            result?;
        }
        (None, _) => {
            set_marker(database, spec).await?;
            let names = [CUSTOMERS.to_owned(), INVOICES.to_owned()];
            let result = write(database, &names, spec, progress).await;
            if result.is_err() {
                let _ = drop_all(database, &names).await;
            }
            result?;
            drop_all(database, &[MARKER]).await?;
        }
    }
    Ok(SeedReport {
        customers: spec.customers as u64,
        invoices: spec.invoices as u64,
        elapsed: started.elapsed(),
    })
}

/// Whether the database needs a data set: its billing collections are empty,
/// or hold what an interrupted seeding run left.
pub async fn needs_seeding(database: &Database) -> Result<bool, SeedError> {
    Ok(marker_present(database).await? || first_filled(database).await?.is_none())
}

/// The first billing collection that holds documents, with its count.
async fn first_filled(database: &Database) -> Result<Option<(&'static str, u64)>, SeedError> {
    for collection in [CUSTOMERS, INVOICES] {
        let count = database
            .collection::<bson::Document>(collection)
            .estimated_document_count()
            .await
            .map_err(database_error("counting documents"))?;
        if count > 0 {
            return Ok(Some((collection, count)));
        }
    }
    Ok(None)
}

/// Creates the collections `names` (customers, invoices) with their indexes
/// and inserts the data set.
async fn write(
    database: &Database,
    names: &[String; 2],
    spec: SeedSpec,
    progress: &mut dyn FnMut(SeedProgress),
) -> Result<(), SeedError> {
    let total = (spec.customers + spec.invoices) as u64;
    let mut written = 0u64;
    progress(SeedProgress { written, total });

    // Creating the indexes also creates the collections, so an empty data
    // set still has both.
    collections::ensure_indexes_on(database, &names[0], &names[1])
        .await
        .map_err(database_error("creating indexes"))?;

    let generator = Generator::new(spec.seed, spec.customers);
    let customers = database.collection::<Customer>(&names[0]);
    for batch in generator.customers().chunks(BATCH) {
        customers
            .insert_many(batch)
            .await
            .map_err(database_error("inserting customers"))?;
        written += batch.len() as u64;
        progress(SeedProgress { written, total });
    }

    // Generating is CPU work and inserting waits on the server, so a
    // blocking thread makes the next batch while this task inserts the last.
    let invoices = database.collection::<Invoice>(&names[1]);
    let mut batches = produce_invoice_batches(generator, spec.invoices);
    // Two inserts in flight: while the server indexes one batch, the next is
    // already on its way, which keeps both cores of a small machine busy.
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        while in_flight.len() < INSERTS_IN_FLIGHT {
            let Some(batch) = batches.recv().await else {
                break;
            };
            let invoices = invoices.clone();
            in_flight.spawn(async move {
                let options = InsertManyOptions::builder().ordered(false).build();
                let count = batch.len() as u64;
                invoices
                    .insert_many(&batch)
                    .with_options(options)
                    .await
                    .map(|_| count)
            });
        }
        let Some(done) = in_flight.join_next().await else {
            break;
        };
        // A panic in an insert task is a panic here; nothing cancels them.
        let count = done
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
            .map_err(database_error("inserting invoices"))?;
        written += count;
        progress(SeedProgress { written, total });
    }
    Ok(())
}

fn produce_invoice_batches(generator: Generator, count: usize) -> mpsc::Receiver<Vec<Invoice>> {
    let (sender, receiver) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut start = 0;
        while start < count {
            let end = (start + BATCH).min(count);
            let batch: Vec<Invoice> = (start..end).map(|index| generator.invoice(index)).collect();
            if sender.blocking_send(batch).is_err() {
                return; // The inserting side stopped after an error.
            }
            start = end;
        }
    });
    receiver
}

async fn rename(database: &Database, from: &str, to: &str) -> Result<(), SeedError> {
    let name = database.name();
    database
        .client()
        .database("admin")
        .run_command(doc! {
            "renameCollection": format!("{name}.{from}"),
            "to": format!("{name}.{to}"),
            "dropTarget": true,
        })
        .await
        .map_err(database_error("publishing the data set (renameCollection)"))?;
    Ok(())
}

/// The collection whose presence says a seeding run is under way or was killed.
const MARKER: &str = "seeding__in_progress";

async fn set_marker(database: &Database, spec: SeedSpec) -> Result<(), SeedError> {
    database
        .collection::<bson::Document>(MARKER)
        .insert_one(doc! {
            "seed": spec.seed as i64,
            "customers": spec.customers as i64,
            "invoices": spec.invoices as i64,
            "started_at": bson::DateTime::now(),
        })
        .await
        .map_err(database_error("marking the seeding run"))?;
    Ok(())
}

async fn marker_present(database: &Database) -> Result<bool, SeedError> {
    let names = database
        .list_collection_names()
        .await
        .map_err(database_error("listing collections"))?;
    Ok(names.iter().any(|name| name == MARKER))
}

async fn drop_stale_staging(database: &Database) -> Result<(), SeedError> {
    let names = database
        .list_collection_names()
        .await
        .map_err(database_error("listing collections"))?;
    let stale: Vec<String> = names
        .into_iter()
        .filter(|name| name.starts_with(STAGING_PREFIX) && name != MARKER)
        .collect();
    drop_all(database, &stale).await
}

async fn drop_all(database: &Database, names: &[impl AsRef<str>]) -> Result<(), SeedError> {
    for name in names {
        database
            .collection::<bson::Document>(name.as_ref())
            .drop()
            .await
            .map_err(database_error("dropping a collection"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_or_huge_sizes_are_refused_with_the_flag_name() {
        let error = SeedSpec::new(-5, 10, 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--customers must be from 0 to 1000000, got -5"
        );
        let error = SeedSpec::new(10, 30_000_000, 1).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("--invoices must be from 0 to")
        );
    }

    #[test]
    fn invoices_without_customers_are_refused() {
        let error = SeedSpec::new(0, 10, 1).unwrap_err();
        assert!(error.to_string().contains("--customers 1 or more"));
        assert!(SeedSpec::new(0, 0, 1).is_ok());
    }
}
