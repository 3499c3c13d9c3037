#!lua
-- Records a change of the task and its events, if `token` holds the watch and `version` is current;
-- the first `claimMax` messages are claimed for an attempt at once.
-- KEYS: the task, then one key per message.
-- args: ctx (helpers.lua), token, version, baseline (JSON text), terminal, claimMax, leaseMs, taskKey,
-- messageToken, finals (webhook ids), messages ({id, meta, body, createdAt, target, webhookId}).
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
if redis.call('HGET', KEYS[1], 'owner') ~= args.token then return {'lost'} end
if redis.call('HGET', KEYS[1], 'version') ~= args.version then return {'stale'} end
redis.call('HSET', KEYS[1], 'baseline', args.baseline)
local subs = {}
local function sub(id)
  if subs[id] == nil then subs[id] = decoded(redis.call('HGET', KEYS[1], 'sub:' .. id)) or false end
  return subs[id]
end
local claimed = 0
for index, message in ipairs(args.messages) do
  local key = KEYS[1 + index]
  local take = claimed < args.claimMax
  redis.call('HSET', key, 'meta', message.meta, 'body', message.body, 'attempts', take and 1 or 0)
  local due = ctx.now
  if take then
    redis.call('HSET', key, 'token', args.messageToken)
    claimed = claimed + 1
    due = ctx.now + args.leaseMs
  end
  redis.call('PEXPIRE', key, ctx.retention)
  schedule(message.target, message.id, due, ctx)
  redis.call('ZADD', ctx.pending, message.createdAt, message.id)
  local owner = sub(message.webhookId)
  if owner then owner.pending = (owner.pending or 0) + 1 end
end
for _, id in ipairs(args.finals) do
  local final = sub(id)
  if final and final.state == 'active' then
    final.final = true
    if final.pending == 0 then endSub(final, 'finished', args.taskKey, ctx) else final.endedReason = 'finished' end
  end
end
for id, value in pairs(subs) do
  if value then redis.call('HSET', KEYS[1], 'sub:' .. id, cjson.encode(value)) end
end
if args.terminal then
  redis.call('HDEL', KEYS[1], 'owner')
  redis.call('ZREM', ctx.watching, args.taskKey)
end
pruneEnded(args.taskKey, ctx)
for _, key in ipairs({KEYS[1], ctx.active, ctx.watching, ctx.pending}) do redis.call('PEXPIRE', key, ctx.retention) end
return {'recorded', claimed}
