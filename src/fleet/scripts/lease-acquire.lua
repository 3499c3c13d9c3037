#!lua
-- Takes the lease if it is free; otherwise answers its holder and remaining time in the same round trip.
-- KEYS[1]: the lease. args: token, ttlMs.
local args = cjson.decode(ARGV[1])
if redis.call('SET', KEYS[1], args.token, 'NX', 'PX', args.ttlMs) then return {1, args.token, 0} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
