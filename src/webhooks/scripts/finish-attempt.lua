#!lua
-- Logs an attempt and settles its message, if `token` still holds the message's claim.
-- KEYS: the message, its task, its webhook's log.
-- args: ctx (helpers.lua), token, delivery (JSON text), next (done, gone, retry, abandoned), retryAt,
-- messageId, webhookId, taskKey, target, logMax.
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
if redis.call('HGET', KEYS[1], 'token') ~= args.token then return 0 end
local sub = decoded(redis.call('HGET', KEYS[2], 'sub:' .. args.webhookId))
-- A forgotten webhook keeps no log.
if sub then
  redis.call('RPUSH', KEYS[3], args.delivery)
  redis.call('LTRIM', KEYS[3], -args.logMax, -1)
  redis.call('PEXPIRE', KEYS[3], ctx.retention)
end
if args.next == 'retry' then
  schedule(args.target, args.messageId, args.retryAt, ctx)
  redis.call('HDEL', KEYS[1], 'token')
  return 1
end
redis.call('DEL', KEYS[1])
unschedule(args.target, args.messageId, ctx)
redis.call('ZREM', ctx.pending, args.messageId)
if sub then
  sub.pending = math.max(0, (sub.pending or 0) - 1)
  local ended = false
  if sub.state == 'active' then
    if args.next == 'gone' then
      endSub(sub, 'gone', args.taskKey, ctx)
      redis.call('HINCRBY', KEYS[2], 'version', 1)
      ended = true
    elseif sub.final and sub.pending == 0 then
      endSub(sub, sub.endedReason or 'finished', args.taskKey, ctx)
      ended = true
    end
  end
  redis.call('HSET', KEYS[2], 'sub:' .. args.webhookId, cjson.encode(sub))
  redis.call('PEXPIRE', KEYS[2], ctx.retention)
  if ended then pruneEnded(args.taskKey, ctx) end
end
return 1
