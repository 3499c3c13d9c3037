#!lua
-- Stores the outcome, publishes it and releases the lease in one step: a waiter that sees
-- the lease gone finds the outcome.
-- KEYS[1]: the lease, KEYS[2]: the outcome. args: token, outcome ('' when not shared), outcomeTtlMs, channel.
local args = cjson.decode(ARGV[1])
if args.outcome ~= '' then
  redis.call('SET', KEYS[2], args.outcome, 'PX', args.outcomeTtlMs)
  redis.call('PUBLISH', args.channel, args.outcome)
end
if redis.call('GET', KEYS[1]) == args.token then redis.call('DEL', KEYS[1]) end
return 1
