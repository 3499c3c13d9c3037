#!lua
-- Ends one of the client's webhooks on one of the tasks; 0 when there is none.
-- KEYS: active, then the tasks (where one id may route to). args: webhookId, client, reason, keepEnded, logPrefix.
local args = cjson.decode(ARGV[1])
local task, sub
for i = 2, #KEYS do
  sub = decoded(redis.call('HGET', KEYS[i], 'sub:' .. args.webhookId))
  if sub then task = KEYS[i] break end
end
if not sub or sub.client ~= args.client then return 0 end
if sub.state == 'active' then
  sub.final = true
  endSub(sub, args.reason, KEYS[1])
  redis.call('HSET', task, 'sub:' .. args.webhookId, cjson.encode(sub))
  redis.call('HINCRBY', task, 'version', 1)
  pruneEnded(task, args.keepEnded, args.logPrefix)
end
return 1
