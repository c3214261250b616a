//! The job system's state changes, each one Lua script that Redis runs
//! atomically: no client ever reads a job, decides, and writes it back.
//!
//! Every script starts with [`PRELUDE`]: the time from Redis (`TIME`), so
//! workers on machines with different clocks agree on leases and retry
//! times; the fencing check; and `move`, the one way a job changes state.
//! `move` keeps the per-state indexes the job list reads, appends the change
//! to the job's event stream (`events:{id}`, what `GET /jobs/{id}/events`
//! replays), publishes the id on `changes` so waiting clients wake up (and
//! on `ready` when the job is queued, so idle workers do), and
//! when the job is over sets its expiry and schedules its webhook.
//!
//! Key names are built inside the scripts from the prefix in `KEYS[1]`: the
//! lab runs a single Redis, not a cluster.

/// Prepended to every script below.
pub const PRELUDE: &str = r"
local prefix = KEYS[1]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- Microseconds, as text: a Lua number would print in exponent form.
local now_us = t[1] .. string.format('%06d', tonumber(t[2]))
local function job_key(id) return prefix .. 'job:' .. id end
local function events_key(id) return prefix .. 'events:' .. id end

-- Whether the claim holding `token` is still job `id`'s current one.
local function holds(id, token)
  local job = job_key(id)
  return redis.call('HGET', job, 'state') == 'running' and redis.call('HGET', job, 'token') == token
end

-- Appends an event to the job's stream and wakes whoever waits on it.
local function event(id, ...)
  local event_id = redis.call('XADD', events_key(id), 'MAXLEN', '~', 1000, '*', ...)
  redis.call('PUBLISH', prefix .. 'changes', id)
  return event_id
end

-- Moves job `id` to `state`, setting the extra field/value pairs given.
-- A finished job expires after its retention unless `keep` (dead letters),
-- and its webhook, if it has one, is due at once.
local function move(id, state, keep, ...)
  local job = job_key(id)
  local old = redis.call('HGET', job, 'state')
  if old then redis.call('ZREM', prefix .. 'index:' .. old, id) end
  redis.call('ZADD', prefix .. 'index:' .. state, 0, id)
  redis.call('HSET', job, 'state', state, 'updated_ms', now, ...)
  local fields = {'type', 'state', 'state', state, 'attempt', redis.call('HGET', job, 'attempts'),
    'at_us', now_us}
  local message = redis.call('HGET', job, 'error')
  if message and (state == 'failed' or state == 'waiting_retry' or state == 'queued') then
    table.insert(fields, 'error')
    table.insert(fields, message)
  end
  event(id, unpack(fields))
  if state == 'queued' then redis.call('PUBLISH', prefix .. 'ready', id) end
  if state == 'succeeded' or state == 'failed' or state == 'cancelled' then
    if not keep then
      local retention = redis.call('HGET', job, 'retention_ms')
      redis.call('PEXPIRE', job, retention)
      redis.call('PEXPIRE', events_key(id), retention)
    end
    if redis.call('HEXISTS', job, 'webhook') == 1 then
      redis.call('HSET', job, 'webhook_state', 'pending')
      redis.call('ZADD', prefix .. 'webhooks', now, id)
    end
  end
end
";

/// `ARGV`: id, kind, params, max attempts, idempotency key (or empty),
/// idempotency seconds, retention milliseconds (how long the job is kept
/// once finished), webhook URL (or empty). Returns `{id, created}`: the id
/// of the job with that idempotency key when there is one already.
pub const SUBMIT: &str = r"
local id, kind, params, max_attempts, key, key_seconds, retention, webhook =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if key ~= '' then
  local existing = redis.call('GET', prefix .. 'idempotency:' .. key)
  if existing then return {existing, 0} end
  redis.call('SET', prefix .. 'idempotency:' .. key, id, 'EX', key_seconds)
end
local job = job_key(id)
redis.call('HSET', job, 'id', id, 'kind', kind, 'params', params,
  'attempts', 0, 'max_attempts', max_attempts, 'token', 0, 'retention_ms', retention,
  'created_ms', now)
if webhook ~= '' then redis.call('HSET', job, 'webhook', webhook) end
redis.call('ZADD', prefix .. 'index:all', 0, id)
move(id, 'queued', false)
redis.call('ZADD', prefix .. 'ready', now, id)
return {id, 1}
";

/// `ARGV`: lease milliseconds. Takes the job that has been ready longest,
/// gives it a new fencing token and a lease. Returns `{id, token, attempt,
/// kind, params}` or nothing.
pub const CLAIM: &str = r"
local ready = redis.call('ZRANGEBYSCORE', prefix .. 'ready', '-inf', now, 'LIMIT', 0, 1)
if #ready == 0 then return false end
local id = ready[1]
local job = job_key(id)
redis.call('ZREM', prefix .. 'ready', id)
local token = redis.call('INCR', prefix .. 'tokens')
local attempt = redis.call('HINCRBY', job, 'attempts', 1)
local lease_until = now + tonumber(ARGV[1])
redis.call('HDEL', job, 'progress_done', 'progress_total', 'progress_note')
move(id, 'running', false, 'token', token, 'lease_until_ms', lease_until)
redis.call('ZADD', prefix .. 'leases', lease_until, id)
return {id, token, attempt, redis.call('HGET', job, 'kind'), redis.call('HGET', job, 'params')}
";

/// `ARGV`: id, token, lease milliseconds. Extends the lease of the claim
/// holding `token`; 0 when that claim is no longer the job's (its lease was
/// lost, or the job was cancelled).
pub const HEARTBEAT: &str = r"
local id, token = ARGV[1], ARGV[2]
if not holds(id, token) then return 0 end
redis.call('HSET', job_key(id), 'lease_until_ms', now + tonumber(ARGV[3]))
redis.call('ZADD', prefix .. 'leases', now + tonumber(ARGV[3]), id)
return 1
";

/// `ARGV`: id, token, steps done, steps in all, note. Records the progress
/// of the run holding `token`; 0 when it no longer holds the job.
pub const PROGRESS: &str = r"
local id, token, done, total, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not holds(id, token) then return 0 end
redis.call('HSET', job_key(id), 'progress_done', done, 'progress_total', total, 'progress_note', note)
event(id, 'type', 'progress', 'done', done, 'total', total, 'note', note)
return 1
";

/// `ARGV`: id, token. Marks the job succeeded if `token` still holds it; 0
/// otherwise (the fencing check).
pub const COMPLETE: &str = r"
local id, token = ARGV[1], ARGV[2]
if not holds(id, token) then return 0 end
redis.call('HDEL', job_key(id), 'lease_until_ms', 'error')
redis.call('ZREM', prefix .. 'leases', id)
move(id, 'succeeded', false)
return 1
";

/// `ARGV`: id, token, error, retryable (1/0), backoff milliseconds. Returns
/// 0 when `token` no longer holds the job, 1 when the job waits to retry,
/// 2 when it failed for good (and, if it was retryable, went to the
/// dead-letter list).
pub const FAIL: &str = r"
local id, token, message, retryable, backoff = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not holds(id, token) then return 0 end
local job = job_key(id)
redis.call('ZREM', prefix .. 'leases', id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HSET', job, 'error', message)
local attempts = tonumber(redis.call('HGET', job, 'attempts'))
local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
if retryable == '1' and attempts < max_attempts then
  move(id, 'waiting_retry', false, 'retry_at_ms', now + tonumber(backoff))
  redis.call('ZADD', prefix .. 'ready', now + tonumber(backoff), id)
  return 1
end
if retryable == '1' then
  -- Dead letters are kept until someone looks at them.
  move(id, 'failed', true)
  redis.call('RPUSH', prefix .. 'dead', id)
else
  move(id, 'failed', false)
end
return 2
";

/// `ARGV`: id. Cancels a job that has not finished (a running one too: its
/// worker's completion is then refused). Returns the state the job had, or
/// nothing for an unknown id.
pub const CANCEL: &str = r"
local id = ARGV[1]
local job = job_key(id)
local state = redis.call('HGET', job, 'state')
if not state then return false end
if state == 'queued' or state == 'waiting_retry' or state == 'running' then
  redis.call('ZREM', prefix .. 'ready', id)
  redis.call('ZREM', prefix .. 'leases', id)
  redis.call('HDEL', job, 'lease_until_ms', 'retry_at_ms')
  move(id, 'cancelled', false)
end
return state
";

/// Every job whose lease has run out (its worker died or stalled) is queued
/// again, or, after its last attempt, fails and goes to the dead-letter
/// list. Returns how many leases were taken back.
pub const REAP: &str = r"
local expired = redis.call('ZRANGEBYSCORE', prefix .. 'leases', '-inf', now)
for _, id in ipairs(expired) do
  local job = job_key(id)
  redis.call('ZREM', prefix .. 'leases', id)
  redis.call('HDEL', job, 'lease_until_ms')
  local attempts = tonumber(redis.call('HGET', job, 'attempts'))
  local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
  if attempts < max_attempts then
    redis.call('HSET', job, 'error', 'the worker lost its lease')
    move(id, 'queued', false)
    redis.call('ZADD', prefix .. 'ready', now, id)
  else
    redis.call('HSET', job, 'error', 'the worker lost its lease on the last attempt')
    move(id, 'failed', true)
    redis.call('RPUSH', prefix .. 'dead', id)
  end
end
return #expired
";

/// `ARGV`: id. Takes a job off the dead-letter list and queues it again with
/// its attempts reset; 0 if it was not there.
pub const REQUEUE: &str = r"
local id = ARGV[1]
if redis.call('LREM', prefix .. 'dead', 0, id) == 0 then return 0 end
local job = job_key(id)
redis.call('HDEL', job, 'error')
redis.call('PERSIST', job)
redis.call('PERSIST', events_key(id))
redis.call('HSET', job, 'attempts', 0)
move(id, 'queued', false)
redis.call('ZADD', prefix .. 'ready', now, id)
return 1
";

/// `ARGV`: id, token. A worker that is stopping hands its job back: queued
/// again at once, the attempt not counted. 0 when `token` no longer holds
/// the job.
pub const RELEASE: &str = r"
local id, token = ARGV[1], ARGV[2]
if not holds(id, token) then return 0 end
local job = job_key(id)
redis.call('ZREM', prefix .. 'leases', id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HINCRBY', job, 'attempts', -1)
move(id, 'queued', false)
redis.call('ZADD', prefix .. 'ready', now, id)
return 1
";

/// `ARGV`: lease milliseconds. Takes the webhook delivery that has been due
/// longest and holds it for the lease (a deliverer that dies lets it come
/// due again). Returns `{id, url, attempt}` or nothing.
pub const WEBHOOK_CLAIM: &str = r"
local due = redis.call('ZRANGEBYSCORE', prefix .. 'webhooks', '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return false end
local id = due[1]
local job = job_key(id)
local url = redis.call('HGET', job, 'webhook')
if not url then
  -- The job expired before its webhook could be delivered.
  redis.call('ZREM', prefix .. 'webhooks', id)
  return false
end
redis.call('ZADD', prefix .. 'webhooks', now + tonumber(ARGV[1]), id)
local attempt = redis.call('HINCRBY', job, 'webhook_attempts', 1)
return {id, url, attempt}
";

/// `ARGV`: id, delivered (1/0), retry after milliseconds (0: give up), note.
/// Records a delivery attempt: done, due again later, or abandoned.
pub const WEBHOOK_RESULT: &str = r"
local id, delivered, retry_ms, note = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local job = job_key(id)
if redis.call('EXISTS', job) == 0 then
  redis.call('ZREM', prefix .. 'webhooks', id)
  return 0
end
local state
if delivered == '1' then
  state = 'delivered'
  redis.call('ZREM', prefix .. 'webhooks', id)
elseif retry_ms > 0 then
  state = 'retrying'
  redis.call('ZADD', prefix .. 'webhooks', now + retry_ms, id)
else
  state = 'abandoned'
  redis.call('ZREM', prefix .. 'webhooks', id)
end
redis.call('HSET', job, 'webhook_state', state, 'webhook_note', note)
event(id, 'type', 'webhook', 'webhook', state, 'attempt', redis.call('HGET', job, 'webhook_attempts'), 'note', note)
return 1
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_change_state_only_through_move() {
        for script in [
            SUBMIT, CLAIM, HEARTBEAT, PROGRESS, COMPLETE, FAIL, CANCEL, REAP, REQUEUE, RELEASE,
        ] {
            assert!(
                !script.contains("'state',"),
                "a script sets the state without `move`: {script}"
            );
            assert!(!script.contains("TIME"), "the prelude reads the time");
        }
    }
}
