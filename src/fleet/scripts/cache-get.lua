#!lua flags=no-writes
-- The value and its remaining lifetime in one round trip, so a local copy expires with it.
-- KEYS[1]: the entry.
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}
