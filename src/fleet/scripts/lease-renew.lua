#!lua
-- Extends the lease only while `token` holds it.
-- KEYS[1]: the lease. args: token, ttlMs.
local args = cjson.decode(ARGV[1])
if redis.call('GET', KEYS[1]) == args.token then return redis.call('PEXPIRE', KEYS[1], args.ttlMs) end
return 0
