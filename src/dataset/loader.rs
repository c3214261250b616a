//! Writing a generated data set into MongoDB.
//!
//! Documents go into staging collections first, in batches through
//! `insert_many`, and the indexes are built there. Only when everything is in
//! place are the staging collections renamed to `customers` and `invoices`.
//! A seeding run that fails, or is interrupted, therefore never leaves a
//! half-written data set where the lessons look: the staging collections are
//! dropped on failure, and left-overs of a killed run are dropped by the next.

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
    if existing == Existing::Refuse {
        refuse_if_not_empty(database).await?;
    }
    drop_stale_staging(database).await?;
    let stamp = format!("{STAGING_PREFIX}{}_", bson::oid::ObjectId::new().to_hex());
    let result = write_staged(database, spec, &stamp, progress).await;
    if result.is_err() {
        // Best effort: the next run drops anything this leaves behind.
        let _ = drop_collection(database, &format!("{stamp}{CUSTOMERS}")).await;
        let _ = drop_collection(database, &format!("{stamp}{INVOICES}")).await;
    }
    result?;
    Ok(SeedReport {
        customers: spec.customers as u64,
        invoices: spec.invoices as u64,
        elapsed: started.elapsed(),
    })
}

/// Whether the billing collections hold no documents.
pub async fn is_empty(database: &Database) -> Result<bool, SeedError> {
    Ok(first_filled(database).await?.is_none())
}

async fn refuse_if_not_empty(database: &Database) -> Result<(), SeedError> {
    match first_filled(database).await? {
        Some((collection, count)) => Err(SeedError::NotEmpty {
            database: database.name().to_owned(),
            collection,
            count,
        }),
        None => Ok(()),
    }
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

async fn write_staged(
    database: &Database,
    spec: SeedSpec,
    stamp: &str,
    progress: &mut dyn FnMut(SeedProgress),
) -> Result<(), SeedError> {
    let staged_customers = format!("{stamp}{CUSTOMERS}");
    let staged_invoices = format!("{stamp}{INVOICES}");
    let total = (spec.customers + spec.invoices) as u64;
    let mut written = 0u64;
    progress(SeedProgress { written, total });

    let generator = Generator::new(spec.seed, spec.customers);
    let customers = database.collection::<Customer>(&staged_customers);
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
    let invoices = database.collection::<Invoice>(&staged_invoices);
    let mut batches = produce_invoice_batches(generator, spec.invoices);
    let unordered = InsertManyOptions::builder().ordered(false).build();
    while let Some(batch) = batches.recv().await {
        invoices
            .insert_many(&batch)
            .with_options(unordered.clone())
            .await
            .map_err(database_error("inserting invoices"))?;
        written += batch.len() as u64;
        progress(SeedProgress { written, total });
    }

    // Create both collections even when empty, so the renames below find them.
    for name in [&staged_customers, &staged_invoices] {
        let exists = database
            .list_collection_names()
            .await
            .map_err(database_error("listing collections"))?
            .contains(name);
        if !exists {
            database
                .create_collection(name.as_str())
                .await
                .map_err(database_error("creating a collection"))?;
        }
    }
    collections::ensure_indexes_on(database, &staged_customers, &staged_invoices)
        .await
        .map_err(database_error("creating indexes"))?;
    rename(database, &staged_customers, CUSTOMERS).await?;
    rename(database, &staged_invoices, INVOICES).await?;
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

async fn drop_stale_staging(database: &Database) -> Result<(), SeedError> {
    let names = database
        .list_collection_names()
        .await
        .map_err(database_error("listing collections"))?;
    for name in names.iter().filter(|name| name.starts_with(STAGING_PREFIX)) {
        drop_collection(database, name).await?;
    }
    Ok(())
}

async fn drop_collection(database: &Database, name: &str) -> Result<(), SeedError> {
    database
        .collection::<bson::Document>(name)
        .drop()
        .await
        .map_err(database_error("dropping a staging collection"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_or_huge_sizes_are_refused_with_the_flag_name() {
        let error = SeedSpec::new(-5, 10, 1).unwrap_err();
        assert_eq!(error.to_string(), "--customers must be from 0 to 1000000, got -5");
        let error = SeedSpec::new(10, 30_000_000, 1).unwrap_err();
        assert!(error.to_string().starts_with("--invoices must be from 0 to"));
    }

    #[test]
    fn invoices_without_customers_are_refused() {
        let error = SeedSpec::new(0, 10, 1).unwrap_err();
        assert!(error.to_string().contains("--customers 1 or more"));
        assert!(SeedSpec::new(0, 0, 1).is_ok());
    }
}
