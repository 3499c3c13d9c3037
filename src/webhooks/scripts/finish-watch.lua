#!lua
-- Stops watching the task, if `token` holds its watch: its webhooks get no new events.
-- KEYS[1]: the task. args: ctx (helpers.lua), token, taskKey, reason.
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
if redis.call('HGET', KEYS[1], 'owner') ~= args.token then return 0 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('ZREM', ctx.watching, args.taskKey)
redis.call('HINCRBY', KEYS[1], 'version', 1)
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' then
    local sub = cjson.decode(fields[i + 1])
    if sub.state == 'active' and not sub.final then
      sub.final = true
      if sub.pending == 0 then endSub(sub, args.reason, args.taskKey, ctx) else sub.endedReason = args.reason end
      redis.call('HSET', KEYS[1], fields[i], cjson.encode(sub))
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ctx.retention)
pruneEnded(args.taskKey, ctx)
return 1
