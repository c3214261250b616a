//! [`JobQueue`]: submit, claim, heartbeat, complete, fail, cancel, reap.
//!
//! The queue's methods are grouped by who calls them: `taking.rs` (a
//! client submits, a worker claims), `holding.rs` (a worker that holds a
//! job: heartbeats, progress, its end, a cancel from anyone) and
//! `upkeep.rs` (lost leases reaped, dead letters queued again). Here: the
//! queue itself, its scripts and the invocations they share.

mod holding;
mod taking;
mod upkeep;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use redis::{RedisResult, Script};

pub use super::claim::{Claim, FailOutcome};
use super::id::JobId;
use super::keys::{Keyspace, Shard, ShardCount};
pub use super::record::{JobRecord, JobState, Progress};
pub use super::submission::{DEFAULT_ATTEMPTS, DEFAULT_KEY_LIFETIME, NewJob};
use crate::services::RedisConnection;

/// The scripts with the prelude in front, loaded once per process (redis
/// sends their SHA1, and the text only when the server does not know it).
pub(super) mod compiled {
    use std::sync::LazyLock;

    use redis::Script;

    use crate::jobs::scripts;

    macro_rules! with_prelude {
        ($($name:ident),* $(,)?) => {
            $(
                pub static $name: LazyLock<Script> = LazyLock::new(|| {
                    Script::new(&format!("{}{}", scripts::PRELUDE, scripts::$name))
                });
            )*
        };
    }

    with_prelude!(
        SUBMIT,
        CLAIM,
        HEARTBEAT,
        PROGRESS,
        COMPLETE,
        FAIL,
        CANCEL,
        REAP,
        REQUEUE,
        RELEASE,
        POSTPONE,
        WEBHOOK_CLAIM,
        WEBHOOK_RESULT,
    );
}

/// The unfinished jobs and the dead letters, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Waiting for a worker.
    pub queued: u64,
    /// Held by a worker.
    pub running: u64,
    /// Waiting for their next attempt.
    pub waiting_retry: u64,
    /// On the dead-letter list.
    pub dead: u64,
}

/// How long a finished job is kept unless the queue is told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How many ids of a ready queue a claim reads ahead, per job it wants:
/// enough that workers claiming together mostly take different jobs.
const CANDIDATES_PER_CLAIM: usize = 4;

/// One job as the claim script returns it: id, token, attempt, kind, params.
type ClaimRow = (String, u64, u32, String, String);

/// How many expired leases one reaping script looks at.
const REAP_BATCH: usize = 64;

/// The queue, under a key prefix (`jobs:` in the lab), on one Redis or a
/// cluster, split over one or more shards ([`keys`](super::keys)).
#[derive(Clone)]
pub struct JobQueue {
    redis: RedisConnection,
    keys: Arc<Keyspace>,
    /// Where the next claim starts looking, so workers visit every shard.
    next_shard: Arc<AtomicUsize>,
    retention: Duration,
    webhooks: Arc<super::webhooks::WebhookPolicy>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("prefix", &self.keys.prefix())
            .field("shards", &self.keys.shards().len())
            .finish()
    }
}

impl JobQueue {
    /// A queue whose keys start with `prefix`, in one shard, keeping
    /// finished jobs for [`DEFAULT_RETENTION`] (their results stay in
    /// MongoDB).
    pub fn new(redis: impl Into<RedisConnection>, prefix: impl Into<String>) -> JobQueue {
        let prefix = prefix.into();
        JobQueue {
            redis: redis.into(),
            keys: Arc::new(Keyspace::new(&prefix, ShardCount::ONE)),
            next_shard: Arc::default(),
            retention: DEFAULT_RETENTION,
            webhooks: Default::default(),
        }
    }

    /// The same queue split over `shards` shards (every process of a queue
    /// must use the same number).
    pub fn with_shards(mut self, shards: ShardCount) -> JobQueue {
        self.keys = Arc::new(Keyspace::new(self.keys.prefix(), shards));
        self
    }

    /// The same queue, delivering webhooks (and accepting them at submit)
    /// only where `policy` allows.
    pub fn with_webhook_policy(mut self, policy: super::webhooks::WebhookPolicy) -> JobQueue {
        self.webhooks = Arc::new(policy);
        self
    }

    /// Where this queue's webhooks may go.
    pub fn webhook_policy(&self) -> &super::webhooks::WebhookPolicy {
        &self.webhooks
    }

    /// The same queue, keeping jobs submitted from now on for `retention`
    /// once they finish (succeeded, failed without retry, or cancelled;
    /// dead letters are kept until requeued).
    pub fn with_retention(mut self, retention: Duration) -> JobQueue {
        self.retention = retention;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// The names of this queue's keys, for tools and tests that look at
    /// them.
    pub fn keys(&self) -> &Keyspace {
        &self.keys
    }

    pub(super) fn connection(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// `script`, to run on `shard` for the jobs `ids` (their keys declared
    /// after the shard's, see [`scripts`](super::scripts)) and `own_key` if
    /// any; the caller adds the script's own arguments.
    pub(super) fn on_shard(
        &self,
        script: &'static Script,
        shard: &Shard,
        ids: &[&str],
        own_key: Option<&str>,
    ) -> redis::ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        for key in shard.script_keys() {
            invocation.key(key);
        }
        for id in ids {
            invocation.key(shard.job(id)).key(shard.events(id));
        }
        if let Some(key) = own_key {
            invocation.key(key);
        }
        invocation.arg(self.keys.prefix()).arg(ids.len());
        for id in ids {
            invocation.arg(*id);
        }
        invocation
    }

    /// `script` for job `id`, on the shard it lives on.
    pub(super) fn on_job(
        &self,
        script: &'static Script,
        id: &JobId,
    ) -> redis::ScriptInvocation<'static> {
        let id = id.as_str();
        self.on_shard(script, self.keys.shard_of(id), &[id], None)
    }

    /// Runs `script` on `claim` (its id and token, then `extra`); `true`
    /// when the script answers 1, i.e. the claim still held the job.
    async fn with_claim(&self, script: &'static Script, claim: &Claim) -> RedisResult<bool> {
        let mut redis = self.redis.clone();
        let done: i64 = self
            .on_job(script, &claim.id)
            .arg(claim.token)
            .invoke_async(&mut redis)
            .await?;
        Ok(done == 1)
    }
}
