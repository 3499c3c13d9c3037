#!lua
-- Ends one of the client's webhooks on one of the tasks; 0 when there is none.
-- KEYS: the tasks (where one id may route to). args: ctx (helpers.lua), taskKeys (the same tasks), webhookId, client, reason.
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
local taskKey, sub
for _, candidate in ipairs(args.taskKeys) do
  sub = decoded(redis.call('HGET', ctx.taskPrefix .. candidate, 'sub:' .. args.webhookId))
  if sub then
    taskKey = candidate
    break
  end
end
if not sub or sub.client ~= args.client then return 0 end
if sub.state == 'active' then
  local taskHash = ctx.taskPrefix .. taskKey
  sub.final = true
  endSub(sub, args.reason, taskKey, ctx)
  redis.call('HSET', taskHash, 'sub:' .. args.webhookId, cjson.encode(sub))
  redis.call('HINCRBY', taskHash, 'version', 1)
  redis.call('PEXPIRE', taskHash, ctx.retention)
  pruneEnded(taskKey, ctx)
end
return 1
