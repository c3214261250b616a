//! `lab bench seed`: how fast `lab seed` loads a data set, next to the
//! fastest the driver can write the same documents.

use std::time::{Duration, Instant};

use mongodb::Database;

use crate::control::LabError;
use lab::billing::collections::{CUSTOMERS, INVOICES};
use lab::billing::{Customer, Invoice};
use lab::config::Config;
use lab::dataset::{self, Existing, Generator, SeedSpec};

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct SeedBenchReport {
    /// Documents written by each contestant.
    pub documents: u64,
    /// Time to generate the documents in memory (not part of the bare figure).
    pub generate: Duration,
    /// Time for plain `insert_many` calls on the pre-generated documents.
    pub bare_insert: Duration,
    /// The same, into collections that already have the lessons' indexes:
    /// the work `lab seed` does, minus generation and batching.
    pub bare_indexed: Duration,
    /// Time for `lab seed`: generation, batched inserts, indexes, publication.
    pub seed: Duration,
    /// Which server was measured.
    pub server: String,
    /// `lab seed` on an embedded server without `--sync-on-commit`, in the
    /// same run: the price of durable acknowledgements. `None` on
    /// `MONGODB_URI`, whose settings are not the lab's to change.
    pub seed_without_sync: Option<Duration>,
}

impl SeedBenchReport {
    /// Documents per second of the bare inserts.
    pub fn bare_docs_per_second(&self) -> f64 {
        self.documents as f64 / self.bare_insert.as_secs_f64()
    }

    /// Documents per second of `lab seed`.
    pub fn seed_docs_per_second(&self) -> f64 {
        self.documents as f64 / self.seed.as_secs_f64()
    }

    /// Documents per second of the bare inserts into indexed collections.
    pub fn bare_indexed_docs_per_second(&self) -> f64 {
        self.documents as f64 / self.bare_indexed.as_secs_f64()
    }

    /// `lab seed`'s rate as a fraction of the bare rate.
    /// Seeding documents per second without `--sync-on-commit`.
    pub fn unsynced_docs_per_second(&self) -> Option<f64> {
        self.seed_without_sync
            .map(|elapsed| self.documents as f64 / elapsed.as_secs_f64())
    }

    pub fn ratio(&self) -> f64 {
        self.seed_docs_per_second() / self.bare_docs_per_second()
    }

    /// `lab seed`'s rate as a fraction of the bare rate with the same indexes.
    pub fn ratio_indexed(&self) -> f64 {
        self.seed_docs_per_second() / self.bare_indexed_docs_per_second()
    }
}

/// Runs the benchmark on `MONGODB_URI`, or on a fresh embedded server of its
/// own (never the lab's, whose data it would disturb).
pub async fn run(
    config: &Config,
    spec: SeedSpec,
    say: &dyn Fn(&str),
) -> Result<SeedBenchReport, LabError> {
    let scratch = super::ScratchServer::start(config, say).await?;
    let client = scratch.client().await?;
    let server = scratch.label.clone();
    let stamp = bson::oid::ObjectId::new().to_hex();
    let bare_db = client.database(&format!("bench_bare_{}", &stamp[16..]));
    let indexed_db = client.database(&format!("bench_indexed_{}", &stamp[16..]));
    let seed_db = client.database(&format!("bench_seed_{}", &stamp[16..]));

    say("generating the documents in memory");
    let started = Instant::now();
    let generator = Generator::new(spec.seed, spec.customers);
    let invoices: Vec<Invoice> = (0..spec.invoices)
        .map(|index| generator.invoice(index))
        .collect();
    let customers: Vec<Customer> = generator.customers().to_vec();
    let generate = started.elapsed();

    say("bare insert_many of the same documents");
    let bare_insert = bare(&bare_db, &customers, &invoices).await;
    say("bare insert_many into collections with the lessons' indexes");
    let bare_indexed = async {
        lab::billing::collections::ensure_indexes(&indexed_db).await?;
        bare(&indexed_db, &customers, &invoices).await
    }
    .await;
    drop((customers, invoices));
    say("lab seed");
    let started = Instant::now();
    let seeded = dataset::seed(&seed_db, spec, Existing::Refuse, &mut |_| {}).await;
    let seed = started.elapsed();
    for database in [&bare_db, &indexed_db, &seed_db] {
        let _ = database.drop().await;
    }
    seeded?;
    drop(client);
    drop(scratch);
    let seed_without_sync = if config.mongodb_uri.is_none() {
        say("lab seed on a server without --sync-on-commit");
        let unsynced = super::ScratchServer::start_with(config, false, say).await?;
        let database = unsynced
            .client()
            .await?
            .database(&format!("bench_seed_{}", &stamp[16..]));
        let started = Instant::now();
        dataset::seed(&database, spec, Existing::Refuse, &mut |_| {}).await?;
        Some(started.elapsed())
    } else {
        None
    };
    let bare_failed = |source| {
        LabError::Seed(dataset::SeedError::Database {
            action: "the bare insert_many",
            source,
        })
    };
    Ok(SeedBenchReport {
        documents: (spec.customers + spec.invoices) as u64,
        generate,
        bare_insert: bare_insert.map_err(bare_failed)?,
        bare_indexed: bare_indexed.map_err(bare_failed)?,
        seed,
        server,
        seed_without_sync,
    })
}

async fn bare(
    database: &Database,
    customers: &[Customer],
    invoices: &[Invoice],
) -> mongodb::error::Result<Duration> {
    let started = Instant::now();
    if !customers.is_empty() {
        database
            .collection::<Customer>(CUSTOMERS)
            .insert_many(customers)
            .await?;
    }
    if !invoices.is_empty() {
        database
            .collection::<Invoice>(INVOICES)
            .insert_many(invoices)
            .await?;
    }
    Ok(started.elapsed())
}
