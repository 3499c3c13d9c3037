#!lua
-- Deletes the lease only while `token` holds it.
-- KEYS[1]: the lease. args: token.
local args = cjson.decode(ARGV[1])
if redis.call('GET', KEYS[1]) == args.token then return redis.call('DEL', KEYS[1]) end
return 0
