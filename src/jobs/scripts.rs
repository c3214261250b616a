//! The job system's state changes, each one Lua script that Redis runs
//! atomically: no client ever reads a job, decides, and writes it back.
//!
//! Every script reads the time from Redis (`TIME`), so workers on machines
//! with different clocks agree on leases and retry times. Key names are
//! built inside the scripts from the prefix in `KEYS[1]`: the lab runs a
//! single Redis, not a cluster.

/// `KEYS[1]` prefix; `ARGV`: id, kind, params, max attempts, idempotency key
/// (or empty), idempotency seconds, retention milliseconds (how long the
/// job is kept once finished). Returns `{id, created}`: the id of the
/// job with that idempotency key when there is one already.
pub const SUBMIT: &str = r"
local prefix = KEYS[1]
local id, kind, params, max_attempts, key, key_seconds, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if key ~= '' then
  local existing = redis.call('GET', prefix .. 'idempotency:' .. key)
  if existing then return {existing, 0} end
  redis.call('SET', prefix .. 'idempotency:' .. key, id, 'EX', key_seconds)
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSET', prefix .. 'job:' .. id,
  'id', id, 'kind', kind, 'params', params, 'state', 'queued',
  'attempts', 0, 'max_attempts', max_attempts, 'token', 0, 'retention_ms', retention,
  'created_ms', now, 'updated_ms', now)
redis.call('ZADD', prefix .. 'ready', now, id)
return {id, 1}
";

/// `KEYS[1]` prefix; `ARGV`: lease milliseconds. Takes the job that has
/// been ready longest, gives it a new fencing token and a lease. Returns
/// `{id, token, attempt, kind, params}` or nothing.
pub const CLAIM: &str = r"
local prefix = KEYS[1]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ready = redis.call('ZRANGEBYSCORE', prefix .. 'ready', '-inf', now, 'LIMIT', 0, 1)
if #ready == 0 then return false end
local id = ready[1]
local job = prefix .. 'job:' .. id
redis.call('ZREM', prefix .. 'ready', id)
local token = redis.call('INCR', prefix .. 'tokens')
local attempt = redis.call('HINCRBY', job, 'attempts', 1)
redis.call('HSET', job, 'state', 'running', 'token', token, 'updated_ms', now,
  'lease_until_ms', now + tonumber(ARGV[1]))
redis.call('ZADD', prefix .. 'leases', now + tonumber(ARGV[1]), id)
return {id, token, attempt, redis.call('HGET', job, 'kind'), redis.call('HGET', job, 'params')}
";

/// `KEYS[1]` prefix; `ARGV`: id, token, lease milliseconds. Extends the
/// lease of the claim holding `token`; 0 when that claim is no longer the
/// job's (its lease was lost, or the job was cancelled).
pub const HEARTBEAT: &str = r"
local prefix, id, token = KEYS[1], ARGV[1], ARGV[2]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'state') ~= 'running' or redis.call('HGET', job, 'token') ~= token then
  return 0
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSET', job, 'lease_until_ms', now + tonumber(ARGV[3]))
redis.call('ZADD', prefix .. 'leases', now + tonumber(ARGV[3]), id)
return 1
";

/// `KEYS[1]` prefix; `ARGV`: id, token. Marks the job succeeded if `token`
/// still holds it; 0 otherwise (the fencing check).
pub const COMPLETE: &str = r"
local prefix, id, token = KEYS[1], ARGV[1], ARGV[2]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'state') ~= 'running' or redis.call('HGET', job, 'token') ~= token then
  return 0
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSET', job, 'state', 'succeeded', 'updated_ms', now)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('ZREM', prefix .. 'leases', id)
redis.call('PEXPIRE', job, redis.call('HGET', job, 'retention_ms'))
return 1
";

/// `KEYS[1]` prefix; `ARGV`: id, token, error, retryable (1/0), backoff
/// milliseconds. Returns 0 when `token` no longer holds the job, 1 when the
/// job waits to retry, 2 when it failed for good (and, if it was
/// retryable, went to the dead-letter list).
pub const FAIL: &str = r"
local prefix, id, token, message, retryable, backoff = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'state') ~= 'running' or redis.call('HGET', job, 'token') ~= token then
  return 0
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREM', prefix .. 'leases', id)
redis.call('HDEL', job, 'lease_until_ms')
local attempts = tonumber(redis.call('HGET', job, 'attempts'))
local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
if retryable == '1' and attempts < max_attempts then
  redis.call('HSET', job, 'state', 'waiting_retry', 'error', message, 'updated_ms', now,
    'retry_at_ms', now + tonumber(backoff))
  redis.call('ZADD', prefix .. 'ready', now + tonumber(backoff), id)
  return 1
end
redis.call('HSET', job, 'state', 'failed', 'error', message, 'updated_ms', now)
if retryable == '1' then
  -- Dead letters are kept until someone looks at them.
  redis.call('RPUSH', prefix .. 'dead', id)
else
  redis.call('PEXPIRE', job, redis.call('HGET', job, 'retention_ms'))
end
return 2
";

/// `KEYS[1]` prefix; `ARGV`: id. Cancels a job that has not finished (a
/// running one too: its worker's completion is then refused). Returns the
/// state the job had, or nothing for an unknown id.
pub const CANCEL: &str = r"
local prefix, id = KEYS[1], ARGV[1]
local job = prefix .. 'job:' .. id
local state = redis.call('HGET', job, 'state')
if not state then return false end
if state == 'queued' or state == 'waiting_retry' or state == 'running' then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('ZREM', prefix .. 'ready', id)
  redis.call('ZREM', prefix .. 'leases', id)
  redis.call('HDEL', job, 'lease_until_ms')
  redis.call('HSET', job, 'state', 'cancelled', 'updated_ms', now)
  redis.call('PEXPIRE', job, redis.call('HGET', job, 'retention_ms'))
end
return state
";

/// `KEYS[1]` prefix. Every job whose lease has run out (its worker died or
/// stalled) is queued again, or, after its last attempt, fails and goes to
/// the dead-letter list. Returns how many leases were taken back.
pub const REAP: &str = r"
local prefix = KEYS[1]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local expired = redis.call('ZRANGEBYSCORE', prefix .. 'leases', '-inf', now)
for _, id in ipairs(expired) do
  local job = prefix .. 'job:' .. id
  redis.call('ZREM', prefix .. 'leases', id)
  redis.call('HDEL', job, 'lease_until_ms')
  local attempts = tonumber(redis.call('HGET', job, 'attempts'))
  local max_attempts = tonumber(redis.call('HGET', job, 'max_attempts'))
  if attempts < max_attempts then
    redis.call('HSET', job, 'state', 'queued', 'updated_ms', now, 'error', 'the worker lost its lease')
    redis.call('ZADD', prefix .. 'ready', now, id)
  else
    redis.call('HSET', job, 'state', 'failed', 'updated_ms', now,
      'error', 'the worker lost its lease on the last attempt')
    redis.call('RPUSH', prefix .. 'dead', id)
  end
end
return #expired
";

/// `KEYS[1]` prefix; `ARGV`: id. Takes a job off the dead-letter list and
/// queues it again with its attempts reset; 0 if it was not there.
pub const REQUEUE: &str = r"
local prefix, id = KEYS[1], ARGV[1]
if redis.call('LREM', prefix .. 'dead', 0, id) == 0 then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local job = prefix .. 'job:' .. id
redis.call('HSET', job, 'state', 'queued', 'attempts', 0, 'updated_ms', now)
redis.call('HDEL', job, 'error')
redis.call('PERSIST', job)
redis.call('ZADD', prefix .. 'ready', now, id)
return 1
";

/// `KEYS[1]` prefix; `ARGV`: id, token. A worker that is stopping hands its
/// job back: queued again at once, the attempt not counted. 0 when `token`
/// no longer holds the job.
pub const RELEASE: &str = r"
local prefix, id, token = KEYS[1], ARGV[1], ARGV[2]
local job = prefix .. 'job:' .. id
if redis.call('HGET', job, 'state') ~= 'running' or redis.call('HGET', job, 'token') ~= token then
  return 0
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREM', prefix .. 'leases', id)
redis.call('HDEL', job, 'lease_until_ms')
redis.call('HINCRBY', job, 'attempts', -1)
redis.call('HSET', job, 'state', 'queued', 'updated_ms', now)
redis.call('ZADD', prefix .. 'ready', now, id)
return 1
";
