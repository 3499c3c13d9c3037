#!lua
-- Ends one of the client's webhooks; 0 when the task has no such webhook of the client's.
-- KEYS: task, active. args: webhookId, client, reason, keepEnded, logPrefix.
local args = cjson.decode(ARGV[1])
local sub = decoded(redis.call('HGET', KEYS[1], 'sub:' .. args.webhookId))
if not sub or sub.client ~= args.client then return 0 end
if sub.state == 'active' then
  sub.final = true
  endSub(sub, args.reason, KEYS[2])
  redis.call('HSET', KEYS[1], 'sub:' .. args.webhookId, cjson.encode(sub))
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  pruneEnded(KEYS[1], args.keepEnded, args.logPrefix)
end
return 1
