//! The customers every run asks for: 1,000 of them, loaded into a database
//! of their own on the scratch MongoDB.

use bson::oid::ObjectId;
use mongodb::Database;

use crate::bench::{ScratchServer, failed};
use crate::control::LabError;
use lab::billing::collections;
use lab::cache::customer::entry_key;
use lab::config::Config;
use lab::dataset::{self, Existing, SeedSpec};

/// The scratch MongoDB with 1,000 customers in a database of their own.
pub(super) struct Customers {
    /// The scratch MongoDB they live on.
    pub(super) scratch: ScratchServer,
    /// Their database.
    pub(super) database: Database,
    /// Their ids.
    pub(super) ids: Vec<ObjectId>,
}

impl Customers {
    /// Starts the scratch MongoDB and loads the customers into a new
    /// database, dropped again when loading fails.
    pub(super) async fn load(config: &Config, say: &dyn Fn(&str)) -> Result<Customers, LabError> {
        let scratch = ScratchServer::start(config, say).await?;
        let client = scratch.client().await?;
        let stamp = bson::oid::ObjectId::new().to_hex();
        let database = client.database(&format!("bench_api_{}", &stamp[16..]));
        say("loading 1,000 customers");
        let spec = SeedSpec {
            customers: 1000,
            invoices: 0,
            seed: dataset::DEFAULT_SEED,
        };
        let listed = async {
            dataset::seed(&database, spec, Existing::Refuse, &mut |_| {}).await?;
            let ids: Vec<ObjectId> = collections::customers(&database)
                .distinct("_id", bson::doc! {})
                .await
                .map_err(failed("listing the customers"))?
                .iter()
                .filter_map(bson::Bson::as_object_id)
                .collect();
            Ok::<_, LabError>(ids)
        }
        .await;
        match listed {
            Ok(ids) if !ids.is_empty() => Ok(Customers {
                scratch,
                database,
                ids,
            }),
            outcome => {
                let _ = database.drop().await;
                Err(outcome.err().unwrap_or(LabError::Unmeasurable {
                    step: "seeding the benchmark's customers",
                    problem: "no customer was loaded",
                }))
            }
        }
    }

    /// `count` paths `/customers/{id}`, the ids in turn.
    pub(super) fn paths(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("/customers/{}", self.ids[i % self.ids.len()]))
            .collect()
    }

    /// `count` cache keys of the same customers, as the cache names them.
    pub(super) fn keys(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| entry_key(self.ids[i % self.ids.len()]))
            .collect()
    }

    /// Drops their database.
    pub(super) async fn drop_database(&self) {
        let _ = self.database.drop().await;
    }
}
