//! The two Lua scripts that keep the cache from serving a stale copy. Each
//! runs atomically on the node that holds both of its keys (the entry and
//! its generation, see `keys`), so no other client's command lands between
//! its steps.

/// Deletes the entry and bumps the generation, atomically.
pub(super) const INVALIDATE: &str = r"
redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])
";

/// Writes the entry only if the generation is still the one the reader saw.
pub(super) const WRITE_BACK: &str = r"
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";
