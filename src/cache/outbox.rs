//! The invalidation outbox: invalidations of the customer cache that Redis
//! has not yet applied, kept in MongoDB so that no restart forgets them.
//!
//! Without it, an invalidation Redis missed (Redis down during a `PATCH`)
//! lived only in the API's memory: restart the API, or bring the lab down
//! and up (Redis reloads its append-only file, stale entry included), and
//! the old customer was served from the cache for the rest of its hour.
//!
//! The write path records its intention *before* it writes the customer
//! ([`Outbox::intend`]), so even a crash between the write and the
//! invalidation leaves the intention behind; once Redis has applied an
//! invalidation made after the write, the record is removed
//! ([`Outbox::done`]). Each write has a record of its own: two writes to one
//! customer at once must not share one, or the first to finish would remove
//! the record of the second, still under way, and a crash then would leave
//! the second's invalidation unrecorded. A process that
//! starts reads every record back ([`Outbox::pending`]) and serves none of
//! those customers from the cache until Redis has applied them. An extra
//! record costs one needless invalidation; a missing one would cost a stale
//! read, so every doubt is resolved towards keeping it.
//!
//! Teaching simplification: the records are read at start-up, which is
//! right for the lab's single API process. Several API processes would
//! each have to learn of the others' records (for example from the
//! collection's change stream, as Facebook's memcache invalidates from the
//! database's commit log) before serving a hit.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bson::oid::ObjectId;
use bson::{DateTime, Document, doc};
use futures_util::TryStreamExt;
use mongodb::{Collection, Database};

/// The collection of pending invalidations.
pub const COLLECTION: &str = "cache_invalidations";

/// One write's record in the outbox, returned by [`Outbox::intend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Intention(ObjectId);

/// Pending invalidations of customer entries, in MongoDB.
#[derive(Debug, Clone)]
pub struct Outbox {
    records: Collection<Document>,
    /// Records done with whose removal failed (MongoDB did not answer):
    /// removed with the next batch, so an outage does not leave them to
    /// pile up until the API restarts. Shared by every clone.
    leftovers: Arc<Mutex<Vec<ObjectId>>>,
}

impl Outbox {
    /// The outbox in `db`.
    pub fn new(db: &Database) -> Outbox {
        Outbox {
            records: db.collection(COLLECTION),
            leftovers: Arc::default(),
        }
    }

    /// Records that customer `id`'s entry must be invalidated after a write
    /// about to be made: call it before writing the customer, and do not
    /// write if it fails.
    pub async fn intend(&self, id: ObjectId) -> mongodb::error::Result<Intention> {
        let record = ObjectId::new();
        self.records
            .insert_one(doc! { "_id": record, "customer": id, "since": DateTime::now() })
            .await?;
        Ok(Intention(record))
    }

    /// Forgets `intentions` once Redis has applied an invalidation made
    /// after their writes, and the records an earlier call failed to
    /// remove. A failure leaves the records, which costs one more
    /// invalidation later and nothing else, so it is not reported; they are
    /// tried again with the next call. The leftovers are forgotten only once
    /// their removal succeeded, so a call dropped mid-way loses none.
    pub async fn done(&self, intentions: &[Intention]) {
        let fresh: Vec<ObjectId> = intentions.iter().map(|intention| intention.0).collect();
        let earlier: Vec<ObjectId> = self.leftovers().clone();
        let records: Vec<ObjectId> = fresh.iter().chain(&earlier).copied().collect();
        if records.is_empty() {
            return;
        }
        let removed = self
            .records
            .delete_many(doc! { "_id": { "$in": &records } })
            .await;
        let mut leftovers = self.leftovers();
        if removed.is_ok() {
            let gone: HashSet<ObjectId> = earlier.into_iter().collect();
            leftovers.retain(|record| !gone.contains(record));
        } else {
            let room = LEFTOVERS_KEPT.saturating_sub(leftovers.len());
            leftovers.extend(fresh.into_iter().take(room));
        }
    }

    /// The records whose removal failed, locked.
    fn leftovers(&self) -> MutexGuard<'_, Vec<ObjectId>> {
        self.leftovers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every record still pending, with its customer. A record written
    /// before records were per write has the customer's id as its own.
    pub async fn pending(&self) -> mongodb::error::Result<Vec<(ObjectId, Intention)>> {
        let records: Vec<Document> = self.records.find(doc! {}).await?.try_collect().await?;
        Ok(records
            .iter()
            .filter_map(|record| {
                let own = record.get_object_id("_id").ok()?;
                let customer = record.get_object_id("customer").unwrap_or(own);
                Some((customer, Intention(own)))
            })
            .collect())
    }
}

/// The most records whose removal failed that are kept to remove with a
/// later batch; past it, the rest wait for the next start-up.
const LEFTOVERS_KEPT: usize = 10_000;
