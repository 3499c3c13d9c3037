#!lua
-- Adds a webhook to its task (and the task to the watched ones unless it is terminal), within the caps.
-- KEYS: task, active, watching, due, pending, then one key per message.
-- args: now, retention, webhook (table), maxPerTask, maxInAll, baseline (JSON text), provider, nativeId,
-- watchUntil, terminal, activeUntil, taskKey, logPrefix, keepEnded, messages ({id, meta, body, createdAt}).
local args = cjson.decode(ARGV[1])
local now = args.now
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local fields = redis.call('HGETALL', KEYS[1])
local active = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' and cjson.decode(fields[i + 1]).state == 'active' then active = active + 1 end
end
if active >= args.maxPerTask then return 'task_limit' end
if redis.call('ZCARD', KEYS[2]) >= args.maxInAll then return 'global_limit' end
local sub = args.webhook
local messages = args.messages
sub.pending = #messages
if args.terminal then
  sub.final = true
  sub.endedReason = 'finished'
  if #messages == 0 then sub.state = 'ended' end
end
redis.call('HSET', KEYS[1], 'sub:' .. sub.id, cjson.encode(sub), 'provider', args.provider, 'native', args.nativeId)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSETNX', KEYS[1], 'baseline', args.baseline)
if sub.state == 'active' then redis.call('ZADD', KEYS[2], args.activeUntil, sub.id) end
if not args.terminal then
  local watchUntil = tonumber(redis.call('HGET', KEYS[1], 'watch_until') or '0')
  if args.watchUntil > watchUntil then redis.call('HSET', KEYS[1], 'watch_until', args.watchUntil) end
  redis.call('ZADD', KEYS[3], 'NX', now, args.taskKey)
end
for index, message in ipairs(messages) do
  local key = KEYS[5 + index]
  redis.call('HSET', key, 'meta', message.meta, 'body', message.body, 'attempts', 0)
  redis.call('PEXPIRE', key, args.retention)
  redis.call('ZADD', KEYS[4], now, message.id)
  redis.call('ZADD', KEYS[5], message.createdAt, message.id)
end
if sub.state ~= 'active' then pruneEnded(KEYS[1], args.keepEnded, args.logPrefix) end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], args.retention) end
return 'registered'
