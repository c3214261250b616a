//! A property test of the job state machine: random sequences of every
//! queue operation, run against Redis and against a model written from the
//! rules, must agree after each step, and Redis's bookkeeping (per-state
//! indexes, the ready and lease sets, the dead-letter list) must match
//! every job's state. A failing sequence prints its seed and its steps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lab::jobs::keys::Shard;
use lab::jobs::{Claim, FailOutcome, JobId, JobQueue, JobState, NewJob, ShardCount};
use lab::testing::TestEnv;
use redis::AsyncCommands;

const SEEDS: u64 = 40;
const STEPS: usize = 80;
const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(1);

/// A small deterministic generator (xorshift), so a seed replays a run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// What the rules say a job is.
#[derive(Debug, Clone)]
struct Expected {
    state: JobState,
    attempts: u32,
    max_attempts: u32,
    token: Option<u64>,
    short_lease: bool,
    /// Waiting to retry with a long backoff: not claimable.
    held_back: bool,
    dead: bool,
}

impl Expected {
    fn holds(&self, claim: &Claim) -> bool {
        self.state == JobState::Running && self.token == Some(claim.token)
    }

    fn ready(&self) -> bool {
        self.state == JobState::Queued || (self.state == JobState::WaitingRetry && !self.held_back)
    }
}

struct Run {
    queue: JobQueue,
    redis: lab::services::RedisConnection,
    jobs: BTreeMap<JobId, Expected>,
    claims: Vec<(Claim, bool)>,
    log: Vec<String>,
}

impl Run {
    async fn step(&mut self, random: &mut Random) {
        match random.below(9) {
            0 | 1 => {
                let max_attempts = 1 + random.below(3) as u32;
                let (id, _) = self
                    .queue
                    .submit(&NewJob::new("invoice_status_summary", "{}").attempts(max_attempts))
                    .await
                    .unwrap();
                self.log.push(format!("submit {id} max {max_attempts}"));
                self.jobs.insert(
                    id,
                    Expected {
                        state: JobState::Queued,
                        attempts: 0,
                        max_attempts,
                        token: None,
                        short_lease: false,
                        held_back: false,
                        dead: false,
                    },
                );
            }
            2 | 3 => {
                let short = random.below(3) == 0;
                let claimed = self
                    .queue
                    .claim(if short { SHORT } else { LONG })
                    .await
                    .unwrap();
                self.log.push(format!("claim short={short} -> {claimed:?}"));
                let any_ready = self.jobs.values().any(Expected::ready);
                let Some(claim) = claimed else {
                    assert!(!any_ready, "nothing was claimed though a job was ready");
                    return;
                };
                let job = self.jobs.get_mut(&claim.id).expect("a known job");
                assert!(job.ready(), "claimed a job that was not ready: {job:?}");
                assert!(
                    job.token.is_none_or(|before| claim.token > before),
                    "a job's tokens only grow"
                );
                job.state = JobState::Running;
                job.attempts += 1;
                job.token = Some(claim.token);
                job.short_lease = short;
                assert_eq!(claim.attempt, job.attempts);
                self.claims.push((claim, short));
            }
            4 => {
                let Some((claim, short)) = random.pick(&self.claims).cloned() else {
                    return;
                };
                let lease = if short { SHORT } else { LONG };
                let kept = self.queue.heartbeat(&claim, lease).await.unwrap();
                self.log
                    .push(format!("heartbeat {} -> {kept}", claim.token));
                let job = &self.jobs[&claim.id];
                assert_eq!(kept, job.holds(&claim));
            }
            5 => {
                let Some((claim, _)) = random.pick(&self.claims).cloned() else {
                    return;
                };
                let done = self.queue.complete(&claim).await.unwrap();
                self.log.push(format!("complete {} -> {done}", claim.token));
                let job = self.jobs.get_mut(&claim.id).unwrap();
                assert_eq!(done, job.holds(&claim));
                if done {
                    job.state = JobState::Succeeded;
                }
            }
            6 => {
                let Some((claim, _)) = random.pick(&self.claims).cloned() else {
                    return;
                };
                let retryable = random.below(2) == 0;
                let held_back = random.below(2) == 0;
                let backoff = if held_back { LONG } else { Duration::ZERO };
                let outcome = self
                    .queue
                    .fail(&claim, "boom", retryable, backoff)
                    .await
                    .unwrap();
                self.log.push(format!(
                    "fail {} retryable={retryable} held_back={held_back} -> {outcome:?}",
                    claim.token
                ));
                let job = self.jobs.get_mut(&claim.id).unwrap();
                let expected = if !job.holds(&claim) {
                    FailOutcome::Fenced
                } else if retryable && job.attempts < job.max_attempts {
                    job.state = JobState::WaitingRetry;
                    job.held_back = held_back;
                    FailOutcome::WillRetry
                } else {
                    job.state = JobState::Failed;
                    job.dead = retryable;
                    FailOutcome::Failed
                };
                assert_eq!(outcome, expected);
            }
            7 => {
                let ids: Vec<JobId> = self.jobs.keys().cloned().collect();
                let Some(id) = random.pick(&ids).cloned() else {
                    return;
                };
                let before = self.queue.cancel(&id).await.unwrap();
                self.log.push(format!("cancel {id} -> {before:?}"));
                let job = self.jobs.get_mut(&id).unwrap();
                assert_eq!(before, Some(job.state));
                if !job.state.is_final() {
                    job.state = JobState::Cancelled;
                }
            }
            _ => match random.below(3) {
                0 => {
                    let Some((claim, _)) = random.pick(&self.claims).cloned() else {
                        return;
                    };
                    let released = self.queue.release(&claim).await.unwrap();
                    self.log
                        .push(format!("release {} -> {released}", claim.token));
                    let job = self.jobs.get_mut(&claim.id).unwrap();
                    assert_eq!(released, job.holds(&claim));
                    if released {
                        job.state = JobState::Queued;
                        job.attempts -= 1;
                    }
                }
                1 => {
                    // Let the short leases run out, then reap them.
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    let reaped = self.queue.reap().await.unwrap();
                    self.log.push(format!("reap -> {reaped}"));
                    let mut expired = 0;
                    for job in self.jobs.values_mut() {
                        if job.state == JobState::Running && job.short_lease {
                            expired += 1;
                            if job.attempts < job.max_attempts {
                                job.state = JobState::Queued;
                            } else {
                                job.state = JobState::Failed;
                                job.dead = true;
                            }
                        }
                    }
                    assert_eq!(reaped, expired);
                }
                _ => {
                    let dead: Vec<JobId> = self
                        .jobs
                        .iter()
                        .filter(|(_, job)| job.dead)
                        .map(|(id, _)| id.clone())
                        .collect();
                    let Some(id) = random.pick(&dead).cloned() else {
                        return;
                    };
                    assert!(self.queue.requeue(&id).await.unwrap());
                    self.log.push(format!("requeue {id}"));
                    let job = self.jobs.get_mut(&id).unwrap();
                    job.state = JobState::Queued;
                    job.attempts = 0;
                    job.dead = false;
                }
            },
        }
    }

    /// Redis agrees with the model, job by job and in every set and list.
    async fn check(&mut self) {
        // The queue has several shards: every set and list is the union of
        // the shards' own.
        let shards = self.queue.keys().shards().to_vec();
        let mut redis = self.redis.clone();
        let mut members = async |key: &dyn Fn(&Shard) -> String| {
            let mut found = BTreeSet::new();
            for shard in &shards {
                let ids: Vec<String> = redis.zrange(key(shard), 0, -1).await.unwrap();
                found.extend(ids);
            }
            found
        };
        let ready = members(&|shard| shard.ready()).await;
        let leases = members(&|shard| shard.leases()).await;
        let mut indexes = Vec::new();
        for state in JobState::ALL {
            indexes.push((state, members(&|shard| shard.index(Some(state))).await));
        }
        let dead: BTreeSet<JobId> = self
            .queue
            .dead_letters()
            .await
            .unwrap()
            .into_iter()
            .collect();
        for (id, expected) in &self.jobs {
            let stored = self.queue.get(id).await.unwrap().expect("the job is kept");
            assert_eq!(
                (stored.state, stored.attempts),
                (expected.state, expected.attempts),
                "job {id}"
            );
            let waiting = matches!(expected.state, JobState::Queued | JobState::WaitingRetry);
            assert_eq!(
                ready.contains(id.as_str()),
                waiting,
                "{id} in the ready set"
            );
            assert_eq!(
                leases.contains(id.as_str()),
                expected.state == JobState::Running,
                "{id} in the lease set"
            );
            assert_eq!(dead.contains(id), expected.dead, "{id} on the dead list");
            for (state, index) in &indexes {
                assert_eq!(
                    index.contains(id.as_str()),
                    *state == expected.state,
                    "{id} in index {state:?}"
                );
            }
        }
    }
}

lab::on_each_topology! {
    async fn random_operation_sequences_follow_the_state_machine(topology) {
    let env = TestEnv::start_on(topology).await;
    let redis = env.redis_connection().await;
    for seed in 1..=SEEDS {
        let prefix = format!("model{seed}:");
        let mut run = Run {
            queue: JobQueue::new(redis.clone(), prefix).with_shards(ShardCount::new(3).unwrap()),
            redis: redis.clone(),
            jobs: BTreeMap::new(),
            claims: Vec::new(),
            log: Vec::new(),
        };
        let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..STEPS {
            let outcome = {
                let step = async {
                    run.step(&mut random).await;
                    run.check().await;
                };
                futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(step)).await
            };
            if let Err(panic) = outcome {
                eprintln!("seed {seed}, steps:\n  {}", run.log.join("\n  "));
                std::panic::resume_unwind(panic);
            }
        }
    }
}
}
