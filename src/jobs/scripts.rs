//! The job system's state changes, each one Lua script that Redis runs
//! atomically: no client ever reads a job, decides, and writes it back.
//!
//! Every script starts with [`PRELUDE`]: the time from Redis (`TIME`), so
//! workers on machines with different clocks agree on leases and retry
//! times; the fencing check; and `move`, the one way a job changes state.
//! `move` keeps the per-state indexes the job list reads, appends the change
//! to the job's event stream (what `GET /jobs/{id}/events` replays),
//! publishes the id on the `changes` channel so waiting clients wake up (and
//! on `ready` when the job is queued, so idle workers do), and when the job
//! is over sets its expiry and schedules its webhook.
//!
//! Every key a script touches is declared in `KEYS`, as Redis asks (and
//! Redis Cluster needs: it routes a script by its keys, all of which must
//! share a hash slot; see [`keys`](super::keys)). The caller passes, in
//! this order:
//! - `KEYS[1..12]`: the shard's keys ([`Shard::script_keys`](super::keys::Shard)):
//!   ready, leases, webhooks, dead, tokens, then the index of all jobs and
//!   one index per state;
//! - then, for each job the script may touch, its hash and its event
//!   stream, in the order of the ids below;
//! - then any key of the script's own (the idempotency key of `SUBMIT`).
//!
//! and in `ARGV`: the channel prefix, the number of job ids, the ids, and
//! then the script's own arguments, which the prelude hands it as `args`.
//! A script that looks up a job it was not given fails loudly rather than
//! build a key name of its own.

/// Prepended to every script below.
pub const PRELUDE: &str = r"
local READY, LEASES, WEBHOOKS, DEAD, TOKENS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local INDEX = {all = KEYS[6], queued = KEYS[7], running = KEYS[8], waiting_retry = KEYS[9],
  succeeded = KEYS[10], failed = KEYS[11], cancelled = KEYS[12]}
local channels = ARGV[1]
local ids, declared = {}, {}
for i = 1, tonumber(ARGV[2]) do
  local id = ARGV[2 + i]
  ids[i] = id
  declared[id] = {KEYS[11 + 2 * i], KEYS[12 + 2 * i]}
end
local own_key = KEYS[13 + 2 * #ids]
local args = {}
for i = 3 + #ids, #ARGV do args[#args + 1] = ARGV[i] end

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- Microseconds, as text: a Lua number would print in exponent form.
local now_us = t[1] .. string.format('%06d', tonumber(t[2]))
local function keys_of(id)
  local keys = declared[id]
  if not keys then error('job ' .. id .. ' was not declared in KEYS') end
  return keys
end
local function job_key(id) return keys_of(id)[1] end
local function events_key(id) return keys_of(id)[2] end

-- Whether the claim holding `token` is still job `id`'s current one.
local function holds(id, token)
  local job = job_key(id)
  return redis.call('HGET', job, 'state') == 'running' and redis.call('HGET', job, 'token') == token
end

-- Appends an event to the job's stream and wakes whoever waits on it.
local function event(id, ...)
  local event_id = redis.call('XADD', events_key(id), 'MAXLEN', '~', 1000, '*', ...)
  redis.call('PUBLISH', channels .. 'changes', id)
  return event_id
end

-- Moves job `id` to `state`, setting the extra field/value pairs given.
-- A finished job expires after its retention unless `keep` (dead letters),
-- and its webhook, if it has one, is due at once.
local function move(id, state, keep, ...)
  local job = job_key(id)
  local old = redis.call('HGET', job, 'state')
  if old then redis.call('ZREM', INDEX[old], id) end
  redis.call('ZADD', INDEX[state], 0, id)
  redis.call('HSET', job, 'state', state, 'updated_ms', now, ...)
  local fields = {'type', 'state', 'state', state, 'attempt', redis.call('HGET', job, 'attempts'),
    'at_us', now_us}
  local message = redis.call('HGET', job, 'error')
  if message and (state == 'failed' or state == 'waiting_retry' or state == 'queued') then
    table.insert(fields, 'error')
    table.insert(fields, message)
  end
  event(id, unpack(fields))
  if state == 'queued' then redis.call('PUBLISH', channels .. 'ready', id) end
  if state == 'succeeded' or state == 'failed' or state == 'cancelled' then
    if not keep then
      local retention = redis.call('HGET', job, 'retention_ms')
      redis.call('PEXPIRE', job, retention)
      redis.call('PEXPIRE', events_key(id), retention)
    end
    if redis.call('HEXISTS', job, 'webhook') == 1 then
      redis.call('HSET', job, 'webhook_state', 'pending')
      redis.call('ZADD', WEBHOOKS, now, id)
    end
  end
end

-- Whether `id` is in the sorted set `key` with a score of now or earlier.
local function due(key, id)
  local score = redis.call('ZSCORE', key, id)
  return score and tonumber(score) <= now
end
";

/// Job: the new one. Own key: its idempotency key. `args`: kind, params,
/// max attempts, idempotency key (or empty), idempotency seconds, retention
/// milliseconds (how long the job is kept once finished), webhook URL (or
/// empty). Returns `{id, created}`: the id of the job with that
/// idempotency key when there is one already.
pub const SUBMIT: &str = r"
local id = ids[1]
local kind, params, max_attempts, key, key_seconds, retention, webhook =
  args[1], args[2], args[3], args[4], args[5], args[6], args[7]
if key ~= '' then
  local existing = redis.call('GET', own_key)
  if existing then return {existing, 0} end
  redis.call('SET', own_key, id, 'EX', key_seconds)
end
local job = job_key(id)
redis.call('HSET', job, 'id', id, 'kind', kind, 'params', params,
  'attempts', 0, 'max_attempts', max_attempts, 'token', 0, 'retention_ms', retention,
  'created_ms', now)
if webhook ~= '' then redis.call('HSET', job, 'webhook', webhook) end
redis.call('ZADD', INDEX.all, 0, id)
move(id, 'queued', false)
redis.call('ZADD', READY, now, id)
return {id, 1}
";

/// Jobs: candidates, the first ids of the ready queue as the caller read
/// them. `args`: lease milliseconds, most jobs to claim. Takes the
/// candidates that are still ready and due, in order, up to the most;
/// gives each a new fencing token and a lease. Returns `{claimed,
/// contested}`: one `{id, token, attempt, kind, params}` per job claimed,
/// and 1 if a candidate had gone meanwhile (another worker took it, so
/// reading the queue again may find more), else 0.
pub const CLAIM: &str = r"
local lease, most = tonumber(args[1]), tonumber(args[2])
local claimed, contested = {}, 0
for _, id in ipairs(ids) do
  if #claimed >= most then break end
  if not redis.call('ZSCORE', READY, id) then
    contested = 1
  elseif redis.call('EXISTS', job_key(id)) == 0 then
    -- A job whose record is gone (deleted by hand, or lost with Redis's
    -- data) cannot run; its id leaves the queue.
    redis.call('ZREM', READY, id)
  elseif due(READY, id) then
    local job = job_key(id)
    redis.call('ZREM', READY, id)
    local token = redis.call('INCR', TOKENS)
    local attempt = redis.call('HINCRBY', job, 'attempts', 1)
    local lease_until = now + lease
    redis.call('HDEL', job, 'progress_done', 'progress_total', 'progress_note')
    move(id, 'running', false, 'token', token, 'lease_until_ms', lease_until)
    redis.call('ZADD', LEASES, lease_until, id)
    claimed[#claimed + 1] = {id, token, attempt, redis.call('HGET', job, 'kind'),
      redis.call('HGET', job, 'params')}
  end
end
return {claimed, contested}
";

/// Jobs: the claimed ones. `args`: lease milliseconds, then their tokens in
/// the same order. Extends the lease of each claim that still holds its
/// job. Returns one 1 (extended) or 0 per job: 0 when that claim is no
/// longer the job's (its lease was lost, or the job was cancelled).
pub const HEARTBEAT: &str = r"
local lease = tonumber(args[1])
local kept = {}
for i, id in ipairs(ids) do
  if holds(id, args[1 + i]) then
    redis.call('HSET', job_key(id), 'lease_until_ms', now + lease)
    redis.call('ZADD', LEASES, now + lease, id)
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept
";

/// Job: the claimed one. `args`: token, steps done, steps in all, note.
/// Records the progress of the run holding `token`; 0 when it no longer
/// holds the job.
pub const PROGRESS: &str = r"
local id, token, done, total, note = ids[1], args[1], args[2], args[3], args[4]
if not holds(id, token) then return 0 end
redis.call('HSET', job_key(id), 'progress_done', done, 'progress_total', total, 'progress_note', note)
event(id, 'type', 'progress', 'done', done, 'total', total, 'note', note)
return 1
";

/// Jobs: the claimed ones. `args`: their tokens, in the same order. Marks
/// each job succeeded if its token still holds it (the fencing check).
/// Returns one 1 (completed) or 0 (fenced) per job.
pub const COMPLETE: &str = r"
local outcomes = {}
for i, id in ipairs(ids) do
  if holds(id, args[i]) then
    redis.call('HDEL', job_key(id), 'lease_until_ms', 'error')
    redis.call('ZREM', LEASES, id)
    move(id, 'succeeded', false)
    outcomes[i] = 1
  else
    outcomes[i] = 0
  end
end
return outcomes
";

/// Job: the claimed one. `args`: token, error, retryable (1/0), backoff
/// milliseconds. Returns 0 when `token` no longer holds the job, 1 when the
/// job waits to retry, 2 when it failed for good (and, if it was
/// retryable, went to the dead-letter list).
pub const FAIL: &str = r"
local id, token, message, retryable, backoff = ids[1], args[1], args[2], args[3], args[4]
if not holds(id, token) then return 0 end
local job = job_key(id)
redis.call('ZREM', LEASES, id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HSET', job, 'error', message)
local attempts = tonumber(redis.call('HGET', job, 'attempts'))
local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
if retryable == '1' and attempts < max_attempts then
  move(id, 'waiting_retry', false, 'retry_at_ms', now + tonumber(backoff))
  redis.call('ZADD', READY, now + tonumber(backoff), id)
  return 1
end
if retryable == '1' then
  -- Dead letters are kept until someone looks at them.
  move(id, 'failed', true)
  redis.call('RPUSH', DEAD, id)
else
  move(id, 'failed', false)
end
return 2
";

/// Job: the one to cancel. Cancels it unless it has finished (a running
/// one too: its worker's completion is then refused). Returns the state
/// the job had, or nothing for an unknown id.
pub const CANCEL: &str = r"
local id = ids[1]
local job = job_key(id)
local state = redis.call('HGET', job, 'state')
if not state then return false end
if state == 'queued' or state == 'waiting_retry' or state == 'running' then
  redis.call('ZREM', READY, id)
  redis.call('ZREM', LEASES, id)
  redis.call('HDEL', job, 'lease_until_ms', 'retry_at_ms')
  move(id, 'cancelled', false)
end
return state
";

/// Jobs: candidates, the first ids of the lease list as the caller read
/// them. Every one whose lease has run out (its worker died or stalled) is
/// queued again, or, after its last attempt, fails and goes to the
/// dead-letter list. Returns how many leases were taken back.
pub const REAP: &str = r"
local reaped = 0
for _, id in ipairs(ids) do
  if due(LEASES, id) and redis.call('EXISTS', job_key(id)) == 0 then
    -- As in CLAIM: no record, nothing to run again.
    redis.call('ZREM', LEASES, id)
  elseif due(LEASES, id) then
    reaped = reaped + 1
    local job = job_key(id)
    redis.call('ZREM', LEASES, id)
    redis.call('HDEL', job, 'lease_until_ms')
    local attempts = tonumber(redis.call('HGET', job, 'attempts'))
    local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
    if attempts < max_attempts then
      redis.call('HSET', job, 'error', 'the worker lost its lease')
      move(id, 'queued', false)
      redis.call('ZADD', READY, now, id)
    else
      redis.call('HSET', job, 'error', 'the worker lost its lease on the last attempt')
      move(id, 'failed', true)
      redis.call('RPUSH', DEAD, id)
    end
  end
end
return reaped
";

/// Job: the dead letter. Takes it off the dead-letter list and queues it
/// again with its attempts reset; 0 if it was not there.
pub const REQUEUE: &str = r"
local id = ids[1]
if redis.call('LREM', DEAD, 0, id) == 0 then return 0 end
local job = job_key(id)
redis.call('HDEL', job, 'error')
redis.call('PERSIST', job)
redis.call('PERSIST', events_key(id))
redis.call('HSET', job, 'attempts', 0)
move(id, 'queued', false)
redis.call('ZADD', READY, now, id)
return 1
";

/// Job: the claimed one. `args`: token. A worker that is stopping hands its
/// job back: queued again at once, the attempt not counted. 0 when `token`
/// no longer holds the job.
pub const RELEASE: &str = r"
local id, token = ids[1], args[1]
if not holds(id, token) then return 0 end
local job = job_key(id)
redis.call('ZREM', LEASES, id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HINCRBY', job, 'attempts', -1)
move(id, 'queued', false)
redis.call('ZADD', READY, now, id)
return 1
";

/// Job: the claimed one. `args`: token, note, delay milliseconds. A worker
/// that could not reach MongoDB hands its job back to run again after
/// `delay`, the attempt not counted: an outage is waited out, not charged
/// to the job. The note says why it waits. 0 when `token` no longer holds
/// the job.
pub const POSTPONE: &str = r"
local id, token, note, delay = ids[1], args[1], args[2], tonumber(args[3])
if not holds(id, token) then return 0 end
local job = job_key(id)
redis.call('ZREM', LEASES, id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HINCRBY', job, 'attempts', -1)
redis.call('HSET', job, 'error', note)
move(id, 'waiting_retry', false, 'retry_at_ms', now + delay)
redis.call('ZADD', READY, now + delay, id)
return 1
";

/// Jobs: candidates, the first ids of the webhook schedule as the caller
/// read them. `args`: lease milliseconds. Takes the first candidate whose
/// delivery is due and holds it for the lease (a deliverer that dies lets
/// it come due again). Returns `{id, url, attempt}` or nothing.
pub const WEBHOOK_CLAIM: &str = r"
for _, id in ipairs(ids) do
  if due(WEBHOOKS, id) then
    local job = job_key(id)
    local url = redis.call('HGET', job, 'webhook')
    if url then
      redis.call('ZADD', WEBHOOKS, now + tonumber(args[1]), id)
      local attempt = redis.call('HINCRBY', job, 'webhook_attempts', 1)
      return {id, url, attempt}
    end
    -- The job expired before its webhook could be delivered.
    redis.call('ZREM', WEBHOOKS, id)
  end
end
return false
";

/// Job: the one whose webhook was called. `args`: delivered (1/0), retry
/// after milliseconds (0: give up), note, attempt. Records a delivery
/// attempt: done, due again later, or abandoned. Only the latest attempt
/// may record (a deliverer that stalled past its hold and answers after
/// another one claimed the delivery is not heard: it would undo a
/// delivery, or schedule one more); 0 when it was not the latest.
pub const WEBHOOK_RESULT: &str = r"
local id, delivered, retry_ms, note, attempt = ids[1], args[1], tonumber(args[2]), args[3], args[4]
local job = job_key(id)
if redis.call('EXISTS', job) == 0 then
  redis.call('ZREM', WEBHOOKS, id)
  return 0
end
if redis.call('HGET', job, 'webhook_attempts') ~= attempt then return 0 end
local state
if delivered == '1' then
  state = 'delivered'
  redis.call('ZREM', WEBHOOKS, id)
elseif retry_ms > 0 then
  state = 'retrying'
  redis.call('ZADD', WEBHOOKS, now + retry_ms, id)
else
  state = 'abandoned'
  redis.call('ZREM', WEBHOOKS, id)
end
redis.call('HSET', job, 'webhook_state', state, 'webhook_note', note)
event(id, 'type', 'webhook', 'webhook', state, 'attempt', redis.call('HGET', job, 'webhook_attempts'), 'note', note)
return 1
";

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 13] = [
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
    ];

    #[test]
    fn scripts_change_state_only_through_move() {
        for script in ALL {
            assert!(
                !script.contains("'state',"),
                "a script sets the state without `move`: {script}"
            );
            assert!(!script.contains("TIME"), "the prelude reads the time");
        }
    }

    #[test]
    fn no_script_makes_a_key_name_of_its_own() {
        assert!(!PRELUDE.contains("prefix"), "the prelude builds a key name");
        for script in ALL {
            assert!(
                !script.contains("prefix") && !script.contains("KEYS["),
                "a script reads a key that is not one the prelude declared: {script}"
            );
        }
    }
}
