#!lua
-- Adds a webhook to its task (and the task to the watched ones unless it is terminal), within
-- the caps: active ones per task and in all, and per client active and ended together (its
-- oldest ended ones are forgotten to make room; when all are active, none is added).
-- KEYS: the task, then one key per message.
-- args: ctx (helpers.lua), webhook (table), taskKey, maxPerTask, maxInAll, maxPerClient,
-- baseline (JSON text), provider, nativeId, watchUntil, terminal, messages ({id, meta, body, createdAt, target}).
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
local now = ctx.now
local sub = args.webhook
local clientActive = ctx.clientPrefix .. sub.client .. ':active'
local clientEnded = ctx.clientPrefix .. sub.client .. ':ended'
-- Index entries past their time: their webhooks expired with their tasks.
redis.call('ZREMRANGEBYSCORE', ctx.active, '-inf', now)
redis.call('ZREMRANGEBYSCORE', clientActive, '-inf', now)
redis.call('ZREMRANGEBYSCORE', clientEnded, '-inf', now - ctx.retention)

local fields = redis.call('HGETALL', KEYS[1])
local activeHere = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' and cjson.decode(fields[i + 1]).state == 'active' then activeHere = activeHere + 1 end
end
if activeHere >= args.maxPerTask then return 'task_limit' end
if redis.call('ZCARD', ctx.active) >= args.maxInAll then return 'global_limit' end
local activeOfClient = redis.call('ZCARD', clientActive)
if activeOfClient >= args.maxPerClient then return 'client_limit' end
local excess = activeOfClient + redis.call('ZCARD', clientEnded) - args.maxPerClient + 1
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', clientEnded, excess)
  for i = 1, #oldest, 2 do
    local colon = string.find(oldest[i], ':', 1, true)
    local taskKey = string.sub(oldest[i], colon + 1)
    local old = decoded(redis.call('HGET', ctx.taskPrefix .. taskKey, 'sub:' .. string.sub(oldest[i], 1, colon - 1)))
    if old then forget(taskKey, old, ctx) end
  end
end

local messages = args.messages
sub.pending = #messages
if args.terminal then
  sub.final = true
  sub.endedReason = 'finished'
end
local member = clientMember(sub, args.taskKey)
if args.terminal and #messages == 0 then
  sub.state = 'ended'
  addEnded(clientEnded, member, ctx)
else
  redis.call('ZADD', ctx.active, now + ctx.retention, sub.id)
  redis.call('ZADD', clientActive, now + ctx.retention, member)
end
redis.call('HSET', KEYS[1], 'sub:' .. sub.id, cjson.encode(sub), 'provider', args.provider, 'native', args.nativeId)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSETNX', KEYS[1], 'baseline', args.baseline)
if not args.terminal then
  local watchUntil = tonumber(redis.call('HGET', KEYS[1], 'watch_until') or '0')
  if args.watchUntil > watchUntil then redis.call('HSET', KEYS[1], 'watch_until', args.watchUntil) end
  redis.call('ZADD', ctx.watching, 'NX', now, args.taskKey)
end
for index, message in ipairs(messages) do
  local key = KEYS[1 + index]
  redis.call('HSET', key, 'meta', message.meta, 'body', message.body, 'attempts', 0)
  redis.call('PEXPIRE', key, ctx.retention)
  schedule(message.target, message.id, now, ctx)
  redis.call('ZADD', ctx.pending, message.createdAt, message.id)
end
if sub.state ~= 'active' then pruneEnded(args.taskKey, ctx) end
for _, key in ipairs({KEYS[1], ctx.active, ctx.watching, ctx.pending, clientActive, clientEnded}) do
  redis.call('PEXPIRE', key, ctx.retention)
end
return 'registered'
