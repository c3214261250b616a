//! Invalidation: every write to a customer deletes its entry and bumps its
//! generation; one Redis could not take is kept (in memory, and in the
//! outbox when there is one) and retried, and until then that customer is
//! read from MongoDB.

use std::collections::HashSet;

use bson::oid::ObjectId;
use redis::Script;

use super::keys::{entry_key, generation_key};
use super::lookup::CustomerCache;
use super::scripts::INVALIDATE;
use super::stats::bump;

impl CustomerCache {
    /// To call before every write to customer `id`: records in the outbox
    /// (when there is one) that its entry must be invalidated, so that not
    /// even a crash between the write and [`CustomerCache::invalidate`]
    /// leaves a stale entry served. Do not write when this fails.
    pub async fn intend(&self, id: ObjectId) -> mongodb::error::Result<()> {
        match &self.inner.outbox {
            Some(outbox) => outbox.intend(id).await,
            None => Ok(()),
        }
    }

    /// To call after every write to customer `id` has reached MongoDB:
    /// removes the cached copy (or the negative entry) and makes any read
    /// already under way unable to write back what it read.
    pub async fn invalidate(&self, id: ObjectId) {
        // A load under way may have read the old document: lookups from now
        // on must not wait for it, but start their own.
        self.in_flight().remove(&id);
        if self.try_invalidate(id).await {
            self.applied(id).await;
        } else {
            bump(&self.inner.stats.invalidations_deferred);
            self.pending().insert(id);
        }
    }

    /// Runs `write` to customer `id` between [`CustomerCache::intend`] and
    /// [`CustomerCache::invalidate`], in a task of its own, and waits for
    /// it. A caller that goes away mid-write (a client that hangs up, a
    /// request past its deadline) drops only its wait: a write that reached
    /// MongoDB is always followed by its invalidation. `write` does not run
    /// when the intention cannot be recorded.
    pub async fn write<T, F>(&self, id: ObjectId, write: F) -> mongodb::error::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        let cache = self.clone();
        crate::tasks::to_completion(async move {
            cache.intend(id).await?;
            let written = write.await;
            cache.invalidate(id).await;
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
        self.pending().extend(waiting.iter().copied());
        Ok(waiting.len())
    }

    /// Retries the invalidations Redis missed; returns how many are left.
    pub async fn retry_pending(&self) -> usize {
        let waiting: Vec<ObjectId> = self.pending().iter().copied().collect();
        for id in waiting {
            if self.try_invalidate(id).await {
                self.pending().remove(&id);
                self.applied(id).await;
            }
        }
        self.pending().len()
    }

    /// Redis has applied the invalidation of `id`: its outbox record goes.
    async fn applied(&self, id: ObjectId) {
        if let Some(outbox) = &self.inner.outbox {
            outbox.done(id).await;
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<ObjectId>> {
        self.inner
            .pending_invalidations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `true` when the cache may be used for `id`: no invalidation of it is
    /// waiting, or the waiting one has just been applied.
    pub(super) async fn settle_pending(&self, id: ObjectId) -> bool {
        if !self.pending().contains(&id) {
            return true;
        }
        if self.try_invalidate(id).await {
            self.pending().remove(&id);
            self.applied(id).await;
            return true;
        }
        false
    }

    async fn try_invalidate(&self, id: ObjectId) -> bool {
        let keys = [entry_key(id), generation_key(id)];
        let applied: Result<i64, _> = self
            .inner
            .store
            .run_script(&Script::new(INVALIDATE), &[&keys[0], &keys[1]], &[])
            .await;
        if applied.is_ok() {
            bump(&self.inner.stats.invalidations);
        }
        applied.is_ok()
    }
}
