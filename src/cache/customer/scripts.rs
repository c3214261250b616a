//! The two Lua scripts that keep the cache from serving a stale copy. Each
//! runs atomically on the node that holds both of its keys (the entry and
//! its generation, see `keys`), so no other client's command lands between
//! its steps.

/// Deletes the entry and moves the generation on, atomically. The
/// generation lasts `ARGV[1]` milliseconds after the last write, so
/// customers nobody writes any more (a deleted one, or an id that never
/// existed) leave nothing behind for ever. Its new value is the server's
/// clock in microseconds, or one more than the old value if that is
/// larger: never a value a reader can have seen before, even after the key
/// expired and came back (a counter would start again at 1, which a reader
/// may still hold from before the expiry, and its stale copy would then be
/// written back). Formatted with `%.0f`: Lua would print a number this
/// large in exponent notation.
pub(super) const INVALIDATE: &str = r"
redis.call('DEL', KEYS[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local before = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local generation = string.format('%.0f', math.max(now, before + 1))
redis.call('SET', KEYS[2], generation, 'PX', ARGV[1])
return generation
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
