//! Invalidation: every write to a customer deletes its entry and bumps its
//! generation; one Redis could not take is kept (in memory, and in the
//! outbox when there is one) and retried, and until then that customer is
//! read from MongoDB.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bson::oid::ObjectId;
use redis::Script;

use crate::cache::outbox::Intention;

use super::keys::{GENERATION_TTL, entry_key, generation_key};
use super::lookup::CustomerCache;
use super::scripts::INVALIDATE;
use super::stats::bump;

/// A write whose invalidation Redis has not taken yet, numbered so that an
/// invalidation settles only the writes made before it was sent.
pub(super) struct Waiting {
    number: u64,
    intention: Option<Intention>,
}

impl CustomerCache {
    /// Records in the outbox (when there is one) that customer `id`'s
    /// entry must be invalidated after a write about to be made, so that
    /// not even a crash between the write and its invalidation leaves a
    /// stale entry served. The write is not made when this fails.
    async fn intend(&self, id: ObjectId) -> mongodb::error::Result<Option<Intention>> {
        match &self.inner.outbox {
            Some(outbox) => outbox.intend(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// To call after a write to customer `id` made outside
    /// [`CustomerCache::write`] has reached MongoDB: removes the cached
    /// copy (or the negative entry) and makes any read already under way
    /// unable to write back what it read.
    pub async fn invalidate(&self, id: ObjectId) {
        self.invalidate_after(id, None).await;
    }

    /// [`CustomerCache::invalidate`] for the write `intention` recorded;
    /// its record goes once Redis has applied the invalidation.
    async fn invalidate_after(&self, id: ObjectId, intention: Option<Intention>) {
        // A load under way may have read the old document: lookups from now
        // on must not wait for it, but start their own.
        self.in_flight().remove(&id);
        if self.try_invalidate(id).await {
            self.applied(intention.as_slice()).await;
        } else {
            bump(&self.inner.stats.invalidations_deferred);
            let waiting = Waiting {
                number: self.inner.next_token.fetch_add(1, Ordering::Relaxed),
                intention,
            };
            self.pending().entry(id).or_default().push(waiting);
        }
    }

    /// Runs `write` to customer `id` after recording in the outbox (when
    /// there is one) that the customer's entry is to be invalidated, then
    /// invalidates it, in a task of its own, and waits for it. A caller that
    /// goes away mid-write (a client that hangs up, a request past its
    /// deadline) drops only its wait: a write that reached MongoDB is
    /// always followed by its invalidation. `write` does not run when the
    /// intention cannot be recorded.
    pub async fn write<T, F>(&self, id: ObjectId, write: F) -> mongodb::error::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        let cache = self.clone();
        crate::tasks::to_completion(async move {
            let intention = cache.intend(id).await?;
            let written = write.await;
            cache.invalidate_after(id, intention).await;
            written
        })
        .await
        .unwrap_or_else(|stopped| Err(mongodb::error::Error::custom(std::sync::Arc::new(stopped))))
    }

    /// Reads back the invalidations a previous process left in the outbox:
    /// until Redis has applied them, those customers are not served from
    /// the cache. Returns how many there were.
    pub async fn restore_pending(&self) -> mongodb::error::Result<usize> {
        let Some(outbox) = &self.inner.outbox else {
            return Ok(0);
        };
        let waiting = outbox.pending().await?;
        let mut pending = self.pending();
        for (customer, intention) in &waiting {
            let waiting = Waiting {
                number: self.inner.next_token.fetch_add(1, Ordering::Relaxed),
                intention: Some(*intention),
            };
            pending.entry(*customer).or_default().push(waiting);
        }
        Ok(waiting.len())
    }

    /// Retries the invalidations Redis missed; returns how many are left.
    pub async fn retry_pending(&self) -> usize {
        let waiting: Vec<ObjectId> = self.pending().keys().copied().collect();
        for id in waiting {
            self.settle_pending(id).await;
        }
        self.pending().len()
    }

    /// Redis has applied an invalidation made after the writes of
    /// `intentions`: their outbox records go.
    async fn applied(&self, intentions: &[Intention]) {
        if let Some(outbox) = &self.inner.outbox {
            outbox.done(intentions).await;
        }
    }

    /// The customers whose invalidation Redis has not taken yet, each with
    /// the outbox records of the writes waiting for it (only writes already
    /// made: a write under way keeps its record until its own
    /// invalidation).
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, Vec<Waiting>>> {
        self.inner
            .pending_invalidations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `true` when the cache may be used for `id`: no invalidation of it is
    /// waiting, or the waiting one has just been applied.
    pub(super) async fn settle_pending(&self, id: ObjectId) -> bool {
        // Only the writes waiting when the invalidation is sent are covered
        // by it; any that join meanwhile wait for the next one.
        let sent: Vec<u64> = match self.pending().get(&id) {
            None => return true,
            Some(waiting) => waiting.iter().map(|waiting| waiting.number).collect(),
        };
        if !self.try_invalidate(id).await {
            return false;
        }
        let covered: Vec<Intention> = {
            let mut pending = self.pending();
            let Some(waiting) = pending.get_mut(&id) else {
                return true;
            };
            let mut covered = Vec::new();
            waiting.retain(|waiting| {
                let is_covered = sent.contains(&waiting.number);
                if is_covered {
                    covered.extend(waiting.intention);
                }
                !is_covered
            });
            if waiting.is_empty() {
                pending.remove(&id);
            }
            covered
        };
        self.applied(&covered).await;
        !self.pending().contains_key(&id)
    }

    async fn try_invalidate(&self, id: ObjectId) -> bool {
        let keys = [entry_key(id), generation_key(id)];
        let lasts = GENERATION_TTL.as_millis().to_string();
        let applied: Result<String, _> = self
            .inner
            .store
            .run_script(&Script::new(INVALIDATE), &[&keys[0], &keys[1]], &[&lasts])
            .await;
        if applied.is_ok() {
            bump(&self.inner.stats.invalidations);
        }
        applied.is_ok()
    }
}
