#!lua flags=no-writes
-- The task's hash again, if `token` still holds its watch.
-- KEYS[1]: task. args: token.
local args = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], 'owner') ~= args.token then return false end
return redis.call('HGETALL', KEYS[1])
