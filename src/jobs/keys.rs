//! Where the job queue's data lives in Redis: [`Keyspace`] names every key,
//! split over shards so that the queue runs on Redis Cluster as well as on
//! one server.
//!
//! Redis Cluster stores each key in one of 16,384 hash slots, and a script
//! may only touch keys of one slot. The part of a key between `{` and `}`,
//! its *hash tag*, is all that decides the slot, so every key of a shard
//! carries the shard's tag: a job's hash, its event stream, and the shard's
//! ready queue, lease list and indexes all sit in one slot, and the scripts
//! that move a job between them stay atomic. Each job belongs to one shard,
//! chosen from its id; the shards' tags are picked to fall in different
//! parts of the slot range, so a cluster spreads them over its masters.
//! On a single Redis the same layout serves with one shard.
//!
//! The layout under the prefix `jobs:` and the tag `q0`:
//!
//! | key | type | what |
//! |---|---|---|
//! | `jobs:{q0}:job:ID` | hash | the job |
//! | `jobs:{q0}:events:ID` | stream | its events |
//! | `jobs:{q0}:ready` | sorted set | ids by when they may run |
//! | `jobs:{q0}:leases` | sorted set | running ids by lease end |
//! | `jobs:{q0}:index:STATE` | sorted set | ids per state (`all` too) |
//! | `jobs:{q0}:webhooks` | sorted set | ids whose webhook is due |
//! | `jobs:{q0}:dead` | list | dead letters |
//! | `jobs:{q0}:tokens` | string | the shard's fencing-token counter |
//! | `jobs:{q0}:idempotency:KEY` | string | the job an idempotency key made |
//!
//! Every process of one queue must use the same number of shards: a job
//! is looked for on the shard its id hashes to.

use super::queue::JobState;

/// The number of hash slots of Redis Cluster.
const SLOTS: u32 = 16_384;

/// The most shards a queue may have.
pub const MAX_SHARDS: usize = 64;

/// The key names of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyspace {
    prefix: String,
    shards: Vec<Shard>,
}

/// One shard's key names; every one of them is in the same hash slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    base: String,
    slot: u16,
}

impl Keyspace {
    /// The keys of the queue under `prefix` with `shards` shards. A prefix
    /// should have no braces: a hash tag in it would put every shard in the
    /// prefix's slot (still correct, but no longer spread).
    pub fn new(prefix: &str, shards: ShardCount) -> Keyspace {
        let shards = (0..shards.get())
            .map(|index| Shard::placed(prefix, index, shards.get()))
            .collect();
        Keyspace {
            prefix: prefix.to_owned(),
            shards,
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every shard.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The shard that job `id` lives on.
    pub fn shard_of(&self, id: &str) -> &Shard {
        &self.shards[self.index_of(id)]
    }

    /// The index of the shard that `name` (a job id or an idempotency
    /// key) hashes to.
    pub fn index_of(&self, name: &str) -> usize {
        (fnv1a(name.as_bytes()) % self.shards.len() as u64) as usize
    }

    /// The channel on which queued job ids are published (what idle workers
    /// wait for). A channel is not a key: `PUBLISH` reaches every node of a
    /// cluster.
    pub fn ready_channel(&self) -> String {
        format!("{}ready", self.prefix)
    }

    /// The channel on which the id of every job that changed is published.
    pub fn changes_channel(&self) -> String {
        format!("{}changes", self.prefix)
    }
}

impl Shard {
    /// Shard `index` of `count`, tagged so that its slot falls in the
    /// `index`-th of `count` equal parts of the slot range: `q{index}`, or
    /// the first `q{index}.{n}` that does.
    fn placed(prefix: &str, index: usize, count: usize) -> Shard {
        let low = SLOTS as usize * index / count;
        let high = SLOTS as usize * (index + 1) / count;
        let tag = std::iter::once(format!("q{index}"))
            .chain((1..).map(|n| format!("q{index}.{n}")))
            .find(|tag| (low..high).contains(&(slot_of(tag) as usize)))
            .unwrap_or_else(|| format!("q{index}"));
        let base = format!("{prefix}{{{tag}}}:");
        Shard {
            slot: key_slot(&base),
            base,
        }
    }

    /// The hash slot all this shard's keys are in.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// Job `id`'s hash.
    pub fn job(&self, id: &str) -> String {
        format!("{}job:{id}", self.base)
    }

    /// Job `id`'s event stream.
    pub fn events(&self, id: &str) -> String {
        format!("{}events:{id}", self.base)
    }

    /// The ids that may run, by the time from which they may.
    pub fn ready(&self) -> String {
        format!("{}ready", self.base)
    }

    /// The running ids, by the time their lease ends.
    pub fn leases(&self) -> String {
        format!("{}leases", self.base)
    }

    /// The ids whose webhook is due, by when.
    pub fn webhooks(&self) -> String {
        format!("{}webhooks", self.base)
    }

    /// The dead-letter list.
    pub fn dead(&self) -> String {
        format!("{}dead", self.base)
    }

    /// The counter fencing tokens are drawn from.
    pub fn tokens(&self) -> String {
        format!("{}tokens", self.base)
    }

    /// The ids in `state`, or of every job with `None`.
    pub fn index(&self, state: Option<JobState>) -> String {
        format!(
            "{}index:{}",
            self.base,
            state.map_or("all", JobState::as_str)
        )
    }

    /// The job made with idempotency key `key`.
    pub fn idempotency(&self, key: &str) -> String {
        format!("{}idempotency:{key}", self.base)
    }

    /// The keys every script is given first, in the order the scripts'
    /// prelude reads them: ready, leases, webhooks, dead, tokens, the index
    /// of all jobs, then one index per state in [`JobState::ALL`]'s order.
    pub(super) fn script_keys(&self) -> Vec<String> {
        let mut keys = vec![
            self.ready(),
            self.leases(),
            self.webhooks(),
            self.dead(),
            self.tokens(),
            self.index(None),
        ];
        keys.extend(JobState::ALL.map(|state| self.index(Some(state))));
        keys
    }
}

/// How many shards a queue has: from 1 to [`MAX_SHARDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardCount(usize);

impl ShardCount {
    /// One shard: the whole queue in one slot, as on a single Redis.
    pub const ONE: ShardCount = ShardCount(1);

    /// `count` shards, if that is from 1 to [`MAX_SHARDS`].
    pub fn new(count: usize) -> Result<ShardCount, ShardCountError> {
        if (1..=MAX_SHARDS).contains(&count) {
            Ok(ShardCount(count))
        } else {
            Err(ShardCountError(count.to_string()))
        }
    }

    /// The number.
    pub fn get(self) -> usize {
        self.0
    }
}

impl std::str::FromStr for ShardCount {
    type Err = ShardCountError;

    fn from_str(text: &str) -> Result<ShardCount, ShardCountError> {
        let count: usize = text
            .trim()
            .parse()
            .map_err(|_| ShardCountError(text.to_owned()))?;
        ShardCount::new(count)
    }
}

/// A number of shards out of range, or not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a job queue has from 1 to {MAX_SHARDS} shards, not {0:?}")]
pub struct ShardCountError(String);

/// Redis Cluster's hash slot of `key`: CRC16 (the XMODEM variant) of its
/// hash tag, the text between the first `{` and the first `}` after it if
/// that is not empty, or else of the whole key, modulo the number of slots.
pub fn key_slot(key: &str) -> u16 {
    let hashed = key
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(tag, _)| tag)
        .filter(|tag| !tag.is_empty())
        .unwrap_or(key);
    (crc16::State::<crc16::XMODEM>::calculate(hashed.as_bytes()) as u32 % SLOTS) as u16
}

fn slot_of(tag: &str) -> u16 {
    key_slot(&format!("{{{tag}}}"))
}

/// FNV-1a: small, stable across processes and versions (unlike the
/// standard library's hasher), and spreads ids evenly.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_redis_clusters() {
        // Values from Redis's own `CLUSTER KEYSLOT`.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("hello"), 866);
        assert_eq!(key_slot("user:{foo}:name"), 12182);
        assert_eq!(key_slot("{}foo"), key_slot("{}foo"));
        assert_ne!(
            key_slot("{}foo"),
            key_slot("foo"),
            "an empty tag hashes the whole key"
        );
    }

    #[test]
    fn shards_fall_in_different_parts_of_the_slot_range() {
        for count in [1, 2, 3, 6, 16, MAX_SHARDS] {
            let keys = Keyspace::new("jobs:", ShardCount::new(count).unwrap());
            for (index, shard) in keys.shards().iter().enumerate() {
                let part = shard.slot() as usize * count / SLOTS as usize;
                assert_eq!(
                    part, index,
                    "{count} shards: shard {index} is in part {part}"
                );
            }
        }
    }

    #[test]
    fn every_key_of_a_shard_has_its_tag() {
        let keys = Keyspace::new("jobs:", ShardCount::new(3).unwrap());
        let shard = keys.shard_of("65a1b2c3d4e5f60718293a4b");
        let tag = shard
            .base
            .split_once('{')
            .unwrap()
            .1
            .split_once('}')
            .unwrap()
            .0;
        for key in shard.script_keys().into_iter().chain([
            shard.job("x"),
            shard.events("x"),
            shard.idempotency("k"),
        ]) {
            assert!(key.contains(&format!("{{{tag}}}")), "{key}");
        }
    }

    #[test]
    fn ids_spread_over_the_shards() {
        let keys = Keyspace::new("jobs:", ShardCount::new(4).unwrap());
        let mut counts = [0; 4];
        for n in 0..4000 {
            counts[keys.index_of(&format!("{n:024x}"))] += 1;
        }
        assert!(counts.iter().all(|&count| count > 800), "{counts:?}");
    }

    #[test]
    fn a_shard_count_is_parsed_once() {
        assert_eq!("3".parse::<ShardCount>().map(ShardCount::get), Ok(3));
        assert!("0".parse::<ShardCount>().is_err());
        assert!("65".parse::<ShardCount>().is_err());
        let error = "many".parse::<ShardCount>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "a job queue has from 1 to 64 shards, not \"many\""
        );
    }
}
